"""What every face-producing task shares: finding the faces, and writing a finished face.

:class:`FaceCollector` turns a dataset's images into :class:`FaceJob` s (detection, landmarks
with confidences, a square crop, a PnP initial pose) and stacks a batch of them into
:class:`facerecon.pipeline.FaceTargets`; it skips faces already made by the same recipe and faces
another live run is making (:class:`facerecon.outputs.OutputFolder`). :class:`ResultWriter`
turns a face's final values into a :class:`facerecon.interfaces.FaceResult` in the photo's own
frame, checks that it is plausible, and writes its folder (every exporter, the resolved recipe,
the completion marker) all at once or not at all. :func:`face_failure` words an exception that
cost one face.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import torch

from facerecon.contour import landmark_trust
from facerecon.errors import FaceReconError
from facerecon.geometry import euler_to_matrix, matrix_to_euler
from facerecon.imaging import srgb_to_linear
from facerecon.interfaces import Camera, FaceResult, Landmarks, RunSummary
from facerecon.outputs import OutputFolder
from facerecon.pipeline import DecodedFaces, FacePipeline, FaceTargets
from facerecon.progress import RunProgress
from facerecon.recipe import to_plain

from .accuracy import landmark_error
from .crop import Crop, crop_around
from .pnp import solve_pose

__all__ = ["FaceJob", "FaceCollector", "ResultWriter", "face_failure", "prepare_stages"]

# iBUG-68 landmarks used to solve the initial pose: brows, nose, eyes, mouth (no jaw contour).
_PNP_POINTS = np.arange(17, 68)


@dataclass
class FaceJob:
    """One detected face on its way through a task.

    Attributes:
        name: output folder name (``<image-stem>[_faceN]``); image: (H, W, 3) uint8 photo;
        landmarks: detected, photo pixels; crop: the square window the task renders;
        focal: the initial focal length in crop pixels;
        rotation (3,) Euler angles and translation (3,) mm from PnP; folder: where results go;
        started: when the face was found (for its row's seconds).
    """

    name: str
    image: np.ndarray
    landmarks: Landmarks
    crop: Crop
    focal: float
    rotation: np.ndarray
    translation: np.ndarray
    folder: Path
    started: float = field(default_factory=time.perf_counter)

    @property
    def principal(self) -> np.ndarray:
        """The photo's image centre in crop pixels."""
        height, width = self.image.shape[:2]
        return self.crop.to_crop(np.array([[width / 2.0, height / 2.0]]))[0]


class FaceCollector:
    """Finds the faces of the dataset's images and prepares them for a batched task.

    Args:
        params: the task's params (``faces``, ``image_size``, ``crop_margin``, ``focal``, ``resume``).
        pipeline: the face pipeline (its model gives the mean shape for PnP).
        detector, landmarker: the recipe's face and landmark detectors.
        outputs: the run's output folder.
        debug: let a face's exceptions through (``--debug``) instead of recording them.
        focal_unit: what ``params.focal`` is in units of: ``"crop"``, the crop side (a network's
            framing, the same for every crop), or ``"photo"``, the photo's longer side (one camera
            for every face of a photo: a small face far from the photo's centre is seen at the
            angle a real lens sees it, not through a crop-sized focal's field of view of 100° and more).
    """

    def __init__(self, params: Any, pipeline: FacePipeline, detector: Any, landmarker: Any, outputs: OutputFolder,
                 debug: bool = False, focal_unit: str = "crop") -> None:
        if focal_unit not in ("crop", "photo"):
            raise ValueError(f"focal_unit must be 'crop' or 'photo', not {focal_unit!r}")
        self.params, self.pipeline, self.detector, self.landmarker = params, pipeline, detector, landmarker
        self.outputs, self.debug, self.focal_unit = outputs, debug, focal_unit
        model = pipeline.model
        device = model.faces.device
        with torch.no_grad():
            mean = model.shape(torch.zeros(1, model.n_identity, device=device),
                               torch.zeros(1, model.n_expression, device=device), model.landmarks)[0]
        self._pnp_model = mean[_PNP_POINTS].cpu().numpy()

    def focal(self, image: np.ndarray, crop: Crop) -> float:
        """Initial focal in ``crop`` pixels for a face of ``image`` (see ``focal_unit``)."""
        if self.focal_unit == "photo":
            return float(self.params.focal * max(image.shape[:2]) * crop.scale)
        return float(self.params.focal * crop.size)

    def jobs(self, dataset: Any, summary: RunSummary) -> Iterator[FaceJob]:
        """Every face still to do, claimed for this run. Unreadable images, images without a face,
        faces another live run is making, faces whose preparation failed and (with ``resume``)
        faces this recipe already made go into ``summary`` instead. The run's overall progress
        (:attr:`progress`) counts the images; tell it when yielded faces are done with
        :meth:`finished`."""
        outputs = self.outputs
        self.progress = progress = RunProgress(len(dataset), summary)
        for sample in dataset:
            if sample.error is not None:
                summary.skipped.append((sample.name, sample.error))
                progress.expect(sample.name, [])
                continue
            try:
                boxes = self.detector.detect(sample.image)
            except Exception as exc:  # noqa: BLE001 - one image's failure costs that image only
                if self.debug:
                    raise
                summary.skipped.append((sample.name, face_failure(exc, "detecting faces")))
                progress.expect(sample.name, [])
                continue
            if not boxes:
                summary.skipped.append((sample.name, "no face detected"))
                progress.expect(sample.name, [])
                continue
            if self.params.faces == "largest":
                boxes = [max(boxes, key=lambda b: b.area)]
            names = [sample.name if len(boxes) == 1 else f"{sample.name}_face{index}" for index in range(len(boxes))]
            progress.expect(sample.name, names)
            for name, box in zip(names, boxes):
                if self.params.resume and outputs.is_current(name):
                    summary.rows.append({**outputs.marker(name), "status": "resumed"})
                    progress.finish(name)
                    continue
                if not outputs.claim(name):
                    summary.skipped.append((name, "another run on this output folder is making it"))
                    progress.finish(name)
                    continue
                try:
                    yield self.prepare(name, sample.image, self.landmarker.locate(sample.image, box),
                                       outputs.root / name)
                except Exception as exc:  # noqa: BLE001
                    outputs.release(name)
                    if self.debug:
                        raise
                    summary.skipped.append((name, face_failure(exc, "locating its landmarks")))
                    progress.finish(name)

    def finished(self, jobs: list[FaceJob]) -> None:
        """These faces are written or failed (their rows or reasons are in the summary)."""
        for job in jobs:
            self.progress.finish(job.name)

    def prepare(self, name: str, image: np.ndarray, landmarks: Landmarks, folder: Path) -> FaceJob:
        """Crop around the landmarks and solve the initial pose on the mean shape."""
        detected = np.asarray(landmarks.points, np.float64)
        crop = crop_around(detected, self.params.image_size, self.params.crop_margin)
        job = FaceJob(name=name, image=image, landmarks=landmarks, crop=crop, focal=self.focal(image, crop),
                      rotation=np.zeros(3), translation=np.zeros(3), folder=folder)
        job.rotation, job.translation = solve_pose(self._pnp_model, crop.to_crop(detected)[_PNP_POINTS], job.focal,
                                                   tuple(job.principal))
        return job

    def targets(self, jobs: list[FaceJob], device: torch.device) -> FaceTargets:
        """Stack the faces' linear crops, principal points, landmarks and confidences."""
        def tensor(values) -> torch.Tensor:
            return torch.as_tensor(np.stack(values), dtype=torch.float32, device=device)

        crops = torch.from_numpy(np.stack([job.crop.warp(job.image) for job in jobs])).to(device).float().div(255.0)
        return FaceTargets(
            image=srgb_to_linear(crops),
            principal=tensor([job.principal for job in jobs]),
            landmarks=tensor([job.crop.to_crop(job.landmarks.points) for job in jobs]),
            landmarks_confidence=tensor([job.landmarks.confidence for job in jobs]),
        )

    def initial_pose(self, jobs: list[FaceJob], device: torch.device) -> dict[str, torch.Tensor]:
        """Physical rotation (B, 3, 3), translation (B, 3) and focal (B,) from PnP."""
        rotations = torch.as_tensor(np.stack([job.rotation for job in jobs]), dtype=torch.float32, device=device)
        return {
            "rotation": euler_to_matrix(rotations),
            "translation": torch.as_tensor(np.stack([job.translation for job in jobs]), dtype=torch.float32, device=device),
            "focal": torch.as_tensor([job.focal for job in jobs], dtype=torch.float32, device=device),
        }


def _landmark_error_iod(fitted: np.ndarray, detected: Landmarks) -> float:
    """Mean distance between (68, 2) fitted and detected landmarks over the eye centres' distance,
    each point weighed by how far it is trusted (:func:`facerecon.contour.landmark_trust`: the
    detector's confidence, and on a turned head less of the jaw contour), as the landmark loss
    weighs it: points the detector marks hidden do not count."""
    points = torch.as_tensor(np.asarray(detected.points, np.float64))[None]
    weights = landmark_trust(points, torch.as_tensor(np.asarray(detected.confidence, np.float64))[None])
    return float(landmark_error(torch.as_tensor(np.asarray(fitted, np.float64))[None], points, weights)[1][0])


class ResultWriter:
    """Builds a finished face's :class:`FaceResult`, judges it, and writes its folder at once.

    Args:
        pipeline: the face pipeline; exporters: built exporters by name; outputs: the run's
            output folder; recipe: the validated recipe; params: the task's params
            (``render_max_side``, ``envmap_size``, ``suspect_landmark_error``).
    """

    def __init__(self, pipeline: FacePipeline, exporters: dict[str, Any], outputs: OutputFolder, recipe: Any,
                 params: Any) -> None:
        self.pipeline, self.exporters, self.outputs, self.recipe, self.params = pipeline, exporters, outputs, recipe, params

    def fail(self, jobs: list[FaceJob], summary: RunSummary, reason: str) -> None:
        """Record each of ``jobs`` as failed with ``reason`` and give its claim back."""
        for job in jobs:
            self.outputs.release(job.name)
            summary.skipped.append((job.name, reason))

    def write_batch(self, jobs: list[FaceJob], summary: RunSummary, values: Callable[[int], dict[str, torch.Tensor]],
                    targets: FaceTargets, histories: dict[str, Any], rows: list[dict[str, Any]], failed: str,
                    debug: bool) -> None:
        """Write every face of an optimised batch, each on its own: a face a stage gave up on
        (diverged) is recorded as ``"<failed>: stage '<name>': <reason>"``, a face whose writing
        fails (full disk, a blocked folder, an exporter's bug) as failed alone.

        Args:
            values: face index -> that face's physical values (batch of one).
            histories: the stages' :class:`facerecon.optimize.StageHistory` by name.
            rows: per face, the task's own numbers; each stage's last loss and seconds follow them.
            debug: raise a writing error instead of recording it.
        """
        for index, job in enumerate(jobs):
            stopped = next((f"stage '{n}': {h.reasons[index]}" for n, h in histories.items() if index in h.reasons), None)
            if stopped is not None:
                self.fail([job], summary, f"{failed}: {stopped}")
                continue
            row = dict(rows[index])
            row.update({f"loss_{n}": h.totals[-1, index].item() for n, h in histories.items() if h.totals.shape[0]})
            row.update({f"seconds_{n}": round(h.seconds, 2) for n, h in histories.items()})
            try:
                summary.rows.append(self.write(job, values(index), targets.select(slice(index, index + 1)),
                                               {n: h.face(index) for n, h in histories.items()}, row))
            except Exception as exc:  # noqa: BLE001 - one face's writing costs that face
                if debug:
                    raise
                summary.skipped.append((job.name, face_failure(exc, "writing its results")))

    def write(self, job: FaceJob, values: dict[str, torch.Tensor], targets: FaceTargets,
              losses: dict[str, list[float]], row: dict[str, Any]) -> dict[str, Any]:
        """Export one face (``values`` and ``targets`` for it alone, batch of one) and return its
        summary row, ``row`` merged in. The face's folder appears complete or not at all; its
        claim is released either way."""
        try:
            with torch.no_grad():
                result = self.result(job, values, targets, losses)
            _check_finite(result)
            out = {
                "face": job.name,
                "status": "ok",
                "seconds": round(time.perf_counter() - job.started, 2),
                "landmark_error_iod": _landmark_error_iod(result.landmarks_fitted, job.landmarks),
                "psnr_face": result.info.get("psnr_face"),
                **row,
            }
            doubts = self.doubts(out)
            if doubts:
                out.update(status="suspect", reason="; ".join(doubts))
            with self.outputs.stage(job.name) as folder:
                written: list[Path] = []
                for exporter in self.exporters.values():
                    written += exporter.export(result, folder)
                final = job.folder
                pictures = [p for p in written if p.suffix == ".png"]
                preview = next((p for p in pictures if p.name == "render.png"), pictures[0] if pictures else None)
                out["preview"] = str(final / preview.name) if preview else ""
                out["outputs"] = [str(final / p.relative_to(folder)) for p in written]
                self.outputs.write_marker(folder, out)
            return out
        finally:
            self.outputs.release(job.name)

    def doubts(self, row: dict[str, Any]) -> list[str]:
        """Why a finished face looks implausible (empty when it does not): its fitted landmarks
        far from the detected ones (a false face, or a fit gone astray)."""
        limit = float(self.params.suspect_landmark_error)
        error = row.get("landmark_error_iod")
        if error is not None and error > limit:
            return [f"fitted landmarks {error:.2f} inter-ocular distances from the detected ones (limit {limit:g})"]
        return []

    def result(self, job: FaceJob, values: dict[str, torch.Tensor], targets: FaceTargets,
               losses: dict[str, list[float]]) -> FaceResult:
        """Final geometry and renders of one face, expressed in the photo's own pixel frame."""
        pipeline, model = self.pipeline, self.pipeline.model
        crop, image = job.crop, job.image
        faces = pipeline.decode(values, targets)
        crop_render = pipeline.render(faces)
        region = pipeline.face_region(crop_render) * crop_render.mask
        focal_photo = float(values["focal"][0]) / crop.scale
        light = values["light"]
        lighting_node = self.recipe.root.light
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
            landmark_vertices=model.landmarks.cpu().numpy(),
            envmap=pipeline.lighting.environment_map(light, *self.params.envmap_size)[0].cpu().numpy(),
            renders=self._photo_renders(image, faces, focal_photo),
            losses=losses,
            info={
                "image_size": [int(image.shape[1]), int(image.shape[0])],
                "crop": {"x0": crop.x0, "y0": crop.y0, "scale": crop.scale, "size": crop.size},
                "landmark_confidence": np.asarray(job.landmarks.confidence, np.float64),
                "parameter_groups": pipeline.layout.describe(),
                "psnr_face": _psnr(crop_render.image, targets.image, region),
            },
        )

    def _photo_renders(self, image: np.ndarray, faces: DecodedFaces, focal_photo: float) -> dict:
        """Render the face over the whole photo (downscaled to ``render_max_side``)."""
        pipeline = self.pipeline
        height, width = image.shape[:2]
        scale = min(1.0, self.params.render_max_side / max(height, width))
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        camera = Camera(focal=torch.tensor([focal_photo * scale], device=faces.light.device), width=w, height=h)
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


def face_failure(exc: BaseException, doing: str) -> str:
    """One line for the summary saying why a face failed while ``doing`` something."""
    if isinstance(exc, FaceReconError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"could not write its results{where}: {exc.strerror or exc}"
    return (f"internal error while {doing}: {type(exc).__name__}: {exc}. This is a bug in facerecon or a plugin; "
            "rerun with --debug for the traceback and report it")


def _check_finite(result: FaceResult) -> None:
    """Refuse a result with non-finite numbers: nothing NaN is ever written."""
    for name in ("vertices", "normals", "diffuse", "specular", "roughness", "rotation", "translation", "light"):
        if not np.all(np.isfinite(getattr(result, name))):
            raise FaceReconError(f"the fit ended with non-finite {name}; nothing was written for this face")
    if not np.isfinite(result.focal):
        raise FaceReconError("the fit ended with a non-finite focal length; nothing was written for this face")


def _psnr(render: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> float | None:
    """PSNR in dB of the render against the photo over the face region (linear RGB, peak 1)."""
    weight = region[..., None].expand_as(render)
    if float(weight.sum()) <= 0:
        return None
    mse = float(((render - target).pow(2) * weight).sum() / weight.sum())
    return round(10.0 * math.log10(1.0 / max(mse, 1e-12)), 3)


def prepare_stages(stages: dict, pipeline: Any, build: Any) -> list[tuple[str, Any, dict, Any]]:
    """(name, stage, built losses, renderer or None) per recipe stage, in order; the stage's group
    names (``free``, ``lr_scale``, ``delay``) checked against ``pipeline.layout``."""
    prepared = []
    for name, stage in stages.items():
        for field_name, names in (("free", stage.free), ("lr_scale", stage.lr_scale), ("delay", stage.delay)):
            pipeline.layout.expand(names, what=f"parameter group in stages.{name}.{field_name}")
        losses = {key: build(node) for key, node in stage.losses.items()}
        renderer = build(stage.renderer) if stage.renderer is not None else None
        prepared.append((name, stage, losses, renderer))
    return prepared
