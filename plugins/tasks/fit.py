"""The ``fit`` task: NextFace-style analysis-by-synthesis fitting of every face in the inputs.

Faces are collected from the images (detection, landmarks, a square crop, a PnP initial pose)
and fitted ``batch_size`` at a time through the core's batched pipeline
(:class:`facerecon.pipeline.FacePipeline`, :func:`facerecon.optimize.run_stage`). Faces from
several images share a batch; each face's folder is written as soon as its batch finishes.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from facerecon.errors import FaceReconError
from facerecon.geometry import euler_to_matrix, matrix_to_euler
from facerecon.imaging import srgb_to_linear
from facerecon.interfaces import Camera, FaceResult, Landmarks, RunContext, RunSummary, Task
from facerecon.io import atomic_write
from facerecon.optimize import LeafParameters, StageHistory, run_stage
from facerecon.pipeline import FacePipeline, FaceTargets
from facerecon.recipe import to_plain
from facerecon.runner import RESOLVED_NAME

from .crop import Crop, crop_around
from .pnp import solve_pose

__all__ = ["FitTask", "COMPLETE_MARKER"]

#: Written last into a face folder; a rerun skips faces that have it.
COMPLETE_MARKER = ".complete.json"

# iBUG-68 landmarks used to solve the initial pose: brows, nose, eyes, mouth (no jaw contour).
_PNP_POINTS = np.arange(17, 68)


@dataclass
class FaceJob:
    """One detected face waiting for its batch.

    Attributes:
        name: output folder name; image: (H, W, 3) uint8 photo; landmarks: detected, photo pixels;
        crop: the square window fitted; rotation (3,) Euler and translation (3,) mm from PnP;
        folder: where its results go.
    """

    name: str
    image: np.ndarray
    landmarks: Landmarks
    crop: Crop
    rotation: np.ndarray
    translation: np.ndarray
    folder: Path
    started: float = field(default_factory=time.perf_counter)


class FitTask(Task):
    """Fits the morphable model to every face of every input image (see :class:`FitParams`)."""

    def run(self, context: RunContext) -> RunSummary:
        """Detect, crop, fit in batches stage by stage, export; skip and report bad images; resume
        finished faces."""
        recipe = context.recipe.root
        build = context.build
        self.context_run = context
        self.pipeline = FacePipeline(build("model"), build("light"), build("reflectance"), build("renderer"))
        self.stages = self._prepare_stages(recipe.stages, build)
        detector, landmarker = build("face_detector"), build("landmark_detector")
        self.exporters = {key: build(node) for key, node in recipe.exporters.items()}
        dataset = build("dataset")
        summary = RunSummary()
        started = time.perf_counter()
        queue: list[FaceJob] = []
        for sample in dataset:
            if sample.error is not None:
                summary.skipped.append((sample.name, sample.error))
                continue
            boxes = detector.detect(sample.image)
            if not boxes:
                summary.skipped.append((sample.name, "no face detected"))
                continue
            if self.params.faces == "largest":
                boxes = [max(boxes, key=lambda b: b.area)]
            for index, box in enumerate(boxes):
                name = sample.name if len(boxes) == 1 else f"{sample.name}_face{index}"
                folder = context.output / name
                if self.params.resume and (folder / COMPLETE_MARKER).exists():
                    row = json.loads((folder / COMPLETE_MARKER).read_text())
                    summary.rows.append({**row, "status": "resumed"})
                    continue
                queue.append(self._prepare(name, sample.image, landmarker.locate(sample.image, box), folder))
                if len(queue) == self.params.batch_size:
                    self._fit_batch(queue, summary)
                    queue = []
        if queue:
            self._fit_batch(queue, summary)
        summary.seconds = time.perf_counter() - started
        return summary

    def _prepare_stages(self, stages, build) -> list[tuple[str, Any, dict, Any]]:
        """(name, stage, built losses, renderer) per recipe stage; group names checked."""
        prepared = []
        for name, stage in stages.items():
            for field_name, names in (("free", stage.free), ("lr_scale", stage.lr_scale), ("delay", stage.delay)):
                self.pipeline.layout.expand(names, what=f"parameter group in stages.{name}.{field_name}")
            losses = {key: build(node) for key, node in stage.losses.items()}
            renderer = build(stage.renderer) if stage.renderer is not None else None
            prepared.append((name, stage, losses, renderer))
        return prepared

    def _prepare(self, name: str, image: np.ndarray, landmarks: Landmarks, folder: Path) -> FaceJob:
        """Crop around the landmarks and solve the initial pose on the mean shape."""
        params = self.params
        detected = np.asarray(landmarks.points, np.float64)
        crop = crop_around(detected, params.image_size, params.crop_margin)
        model = self.pipeline.model
        with torch.no_grad():
            mean = model.shape(torch.zeros(1, model.n_identity, device=self.device),
                               torch.zeros(1, model.n_expression, device=self.device), model.landmarks)[0]
        principal = self._principal(image, crop)
        rotation, translation = solve_pose(mean[_PNP_POINTS].cpu().numpy(), crop.to_crop(detected)[_PNP_POINTS],
                                           params.focal * params.image_size, tuple(principal))
        return FaceJob(name=name, image=image, landmarks=landmarks, crop=crop, rotation=rotation,
                       translation=translation, folder=folder)

    @staticmethod
    def _principal(image: np.ndarray, crop: Crop) -> np.ndarray:
        """The photo's image centre in crop pixels."""
        height, width = image.shape[:2]
        return crop.to_crop(np.array([[width / 2.0, height / 2.0]]))[0]

    def _targets(self, jobs: list[FaceJob]) -> FaceTargets:
        """Stack the faces' crops, landmarks and principal points."""
        device = self.device

        def tensor(values) -> torch.Tensor:
            return torch.as_tensor(np.stack(values), dtype=torch.float32, device=device)

        crops = torch.from_numpy(np.stack([job.crop.warp(job.image) for job in jobs])).to(device).float().div(255.0)
        return FaceTargets(
            image=srgb_to_linear(crops),
            principal=tensor([self._principal(job.image, job.crop) for job in jobs]),
            landmarks=tensor([job.crop.to_crop(job.landmarks.points) for job in jobs]),
            landmarks_confidence=tensor([job.landmarks.confidence for job in jobs]),
        )

    def _fit_batch(self, jobs: list[FaceJob], summary: RunSummary) -> None:
        """Fit a batch of faces through every stage; export each face that did not diverge."""
        targets = self._targets(jobs)
        batch, device = len(jobs), self.device
        layout = self.pipeline.layout
        initial = layout.initial(
            batch, device,
            rotation=euler_to_matrix(torch.as_tensor(np.stack([job.rotation for job in jobs]), dtype=torch.float32)),
            translation=torch.as_tensor(np.stack([job.translation for job in jobs]), dtype=torch.float32),
            focal=torch.full((batch,), self.params.focal * self.params.image_size),
        )
        parameters = LeafParameters(layout, initial)
        alive = torch.ones(batch, dtype=torch.bool, device=device)
        histories: dict[str, StageHistory] = {}
        label = jobs[0].name if batch == 1 else f"{batch} faces"
        for name, stage, losses, renderer in self.stages:
            histories[name] = run_stage(stage, parameters, self.pipeline, targets, losses, renderer, alive,
                                        label=f"{label} {name}")
        for index, job in enumerate(jobs):
            failure = next((f"stage '{name}': {h.reasons[index]}" for name, h in histories.items() if index in h.reasons), None)
            if failure is not None:
                summary.skipped.append((job.name, f"fit failed: {failure}"))
                continue
            summary.rows.append(self._finish(job, index, parameters, targets, histories))

    def _finish(self, job: FaceJob, index: int, parameters: LeafParameters, targets: FaceTargets,
                histories: dict[str, StageHistory]) -> dict:
        """Build the face's result, export it and write its completion marker; returns its row."""
        with torch.no_grad():
            result = self._result(job, parameters.face(index), targets.select(slice(index, index + 1)), histories, index)
        folder = job.folder
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for exporter in self.exporters.values():
            written += exporter.export(result, folder)
        resolved = self.context_run.output / RESOLVED_NAME
        if resolved.exists():  # each face folder is self-contained: how it was made travels with it
            with atomic_write(folder / RESOLVED_NAME) as handle:
                handle.write(resolved.read_text())
            written.append(folder / RESOLVED_NAME)
        detected = np.asarray(job.landmarks.points, np.float64)
        eyes = np.linalg.norm(detected[36:42].mean(0) - detected[42:48].mean(0))
        row = {
            "face": job.name,
            "status": "ok",
            "seconds": round(time.perf_counter() - job.started, 2),
            "landmark_error_iod": float(np.linalg.norm(result.landmarks_fitted - detected, axis=1).mean() / max(eyes, 1e-6)),
            "psnr_face": result.info.get("psnr_face"),
        }
        row.update({f"loss_{name}": h.totals[-1, index].item() for name, h in histories.items() if h.totals.shape[0]})
        row.update({f"seconds_{name}": round(h.seconds, 2) for name, h in histories.items()})
        pictures = [p for p in written if p.suffix == ".png"]
        preview = next((p for p in pictures if p.name == "render.png"), pictures[0] if pictures else None)
        row["preview"] = str(preview) if preview else ""
        row["outputs"] = [str(p) for p in written]
        with atomic_write(folder / COMPLETE_MARKER) as handle:
            json.dump(row, handle, indent=2)
        return row

    def _result(self, job: FaceJob, values: dict[str, torch.Tensor], targets: FaceTargets,
                histories: dict[str, StageHistory], index: int) -> FaceResult:
        """Final geometry and renders of one face, expressed in the photo's own pixel frame."""
        pipeline, model = self.pipeline, self.pipeline.model
        crop, image = job.crop, job.image
        faces = pipeline.decode(values, targets)
        crop_render = pipeline.render(faces)
        region = pipeline.face_region(crop_render) * crop_render.mask
        focal_photo = float(values["focal"][0]) / crop.scale
        renders = self._photo_renders(image, faces, focal_photo)
        light = values["light"]
        lighting_node = self.context_run.recipe.root.light
        return FaceResult(
            name=job.name,
            image=image,
            vertices=faces.vertices[0].cpu().numpy(),
            faces=model.faces.cpu().numpy(),
            uvs=model.uvs.cpu().numpy(),
            normals=faces.normals[0].cpu().numpy(),
            diffuse=faces.textures.diffuse[0].clamp(0, 1).cpu().numpy(),
            specular=faces.textures.specular[0].clamp(0, 1).cpu().numpy(),
            roughness=faces.textures.roughness[0].clamp(0, 1).cpu().numpy(),
            focal=focal_photo,
            rotation=matrix_to_euler(values["rotation"])[0].cpu().numpy(),
            translation=values["translation"][0].cpu().numpy(),
            light=light[0].cpu().numpy(),
            lighting={"type": lighting_node.type, "params": to_plain(lighting_node.params),
                      "convention": pipeline.lighting.convention},
            coefficients={name: value[0].cpu().numpy() for name, value in values.items()
                          if pipeline.layout[name].owner == "model" and name != "textures"},
            landmarks_detected=np.asarray(job.landmarks.points, np.float64),
            landmarks_fitted=crop.to_photo(faces.camera.project(faces.landmarks)[0].cpu().numpy()),
            envmap=pipeline.lighting.environment_map(light, *self.params.envmap_size)[0].cpu().numpy(),
            renders=renders,
            losses={name: h.face(index) for name, h in histories.items()},
            info={
                "image_size": [int(image.shape[1]), int(image.shape[0])],
                "crop": {"x0": crop.x0, "y0": crop.y0, "scale": crop.scale, "size": crop.size},
                "landmark_confidence": np.asarray(job.landmarks.confidence, np.float64),
                "parameter_groups": pipeline.layout.describe(),
                "psnr_face": _psnr(crop_render.image, targets.image, region),
            },
        )

    def _photo_renders(self, image: np.ndarray, faces, focal_photo: float) -> dict:
        """Render the fit over the whole photo (downscaled to ``render_max_side``)."""
        pipeline = self.pipeline
        height, width = image.shape[:2]
        scale = min(1.0, self.params.render_max_side / max(height, width))
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        camera = Camera(focal=torch.tensor([focal_photo * scale], device=self.device), width=w, height=h)
        out = pipeline.render(faces, camera=camera)
        # Illumination: the light's irradiance over a white Lambertian surface, E(n)/π.
        irradiance = pipeline.lighting.irradiance(faces.light, out.normals.reshape(1, -1, 3))
        illumination = (irradiance.reshape(out.normals.shape) / math.pi * out.mask[..., None])[0]
        illumination = illumination / illumination.max().clamp(min=1e-6)  # shown relative to its brightest point
        renders = {"render": out.image[0].clamp(0, 1).cpu().numpy(), "mask": out.mask[0].cpu().numpy(),
                   "illumination": illumination.clamp(0, 1).cpu().numpy()}
        for key in ("diffuse_shading", "specular_shading"):
            if key in out.extras:
                renders[key] = out.extras[key][0].clamp(min=0).cpu().numpy()
        if scale != 1.0:
            renders = {k: cv2.resize(v, (width, height), interpolation=cv2.INTER_LINEAR) for k, v in renders.items()}
        mask = renders["mask"][..., None] if renders["mask"].ndim == 2 else renders["mask"]
        photo = srgb_to_linear(image.astype(np.float32) / 255.0)
        renders["overlay"] = photo * (1 - mask) + renders["render"] * mask
        return renders


def _psnr(render: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> float | None:
    """PSNR in dB of the render against the photo over the face region (linear RGB, peak 1)."""
    weight = region[..., None].expand_as(render)
    if float(weight.sum()) <= 0:
        return None
    mse = float(((render - target).pow(2) * weight).sum() / weight.sum())
    return round(10.0 * math.log10(1.0 / max(mse, 1e-12)), 3)
