"""The ``fit`` task: NextFace-style analysis-by-synthesis fitting of every face in the inputs."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from facerecon.errors import FaceReconError
from facerecon.geometry import vertex_normals
from facerecon.io import atomic_write
from facerecon.runner import RESOLVED_NAME
from facerecon.imaging import srgb_to_linear
from facerecon.interfaces import Camera, FaceResult, Mesh, RunContext, RunSummary, Scene, Task

from .crop import crop_around
from .pnp import solve_pose
from .stages import Components, FitTarget, evaluate, run_stage
from .variables import GROUPS, FaceVariables

__all__ = ["FitTask", "COMPLETE_MARKER"]

#: Written last into a face folder; a rerun skips faces that have it.
COMPLETE_MARKER = ".complete.json"

# iBUG-68 landmarks used to solve the initial pose: brows, nose, eyes, mouth (no jaw contour).
_PNP_POINTS = np.arange(17, 68)


class FitTask(Task):
    """Fits the morphable model to every face of every input image (see :class:`FitParams`)."""

    def run(self, context: RunContext) -> RunSummary:
        """Detect, crop, fit stage by stage, export; skip and report bad images; resume finished faces."""
        recipe = context.recipe.root
        for name, stage in recipe.stages.items():
            unknown = [g for g in [*stage.free, *stage.lr_scale, *stage.delay] if g not in GROUPS]
            if unknown:
                raise FaceReconError(
                    f"Stage '{name}' frees unknown parameter group(s) {', '.join(unknown)}. "
                    f"The fit task knows: {', '.join(GROUPS)}."
                )
        build = context.build
        components = Components(model=build("model"), lighting=build("light"),
                                reflectance=build("reflectance"), renderer=build("renderer"))
        detector, landmarker = build("face_detector"), build("landmark_detector")
        exporters = {key: build(node) for key, node in recipe.exporters.items()}
        dataset = build("dataset")
        summary = RunSummary()
        started = time.perf_counter()
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
                try:
                    row = self._fit_face(sample.image, name, box, landmarker, components, exporters, folder, context)
                except FaceReconError as exc:
                    if context.debug:
                        raise
                    summary.skipped.append((name, str(exc)))
                    continue
                summary.rows.append(row)
        summary.seconds = time.perf_counter() - started
        return summary

    def _fit_face(self, image, name, box, landmarker, components, exporters, folder: Path, context) -> dict:
        params = self.params
        device = self.device
        started = time.perf_counter()
        detected = np.asarray(landmarker.detect(image, box), np.float64)
        crop = crop_around(detected, params.image_size, params.crop_margin)
        height, width = image.shape[:2]
        photo_centre = np.array([width / 2.0, height / 2.0])
        principal = crop.to_crop(photo_centre[None])[0]
        focal = params.focal * params.image_size
        model = components.model
        mean = model.shape(torch.zeros(1, model.n_identity, device=device),
                           torch.zeros(1, model.n_expression, device=device))[0]
        model_points = mean[model.landmarks[_PNP_POINTS]].detach().cpu().numpy()
        rotation, translation = solve_pose(model_points, crop.to_crop(detected)[_PNP_POINTS], focal, tuple(principal))
        variables = FaceVariables(model, components.lighting, rotation, translation, focal, device)
        crop_image = torch.from_numpy(crop.warp(image)).to(device).float().div(255.0)[None]
        target = FitTarget(
            image=srgb_to_linear(crop_image),
            landmarks=torch.as_tensor(crop.to_crop(detected), dtype=torch.float32, device=device)[None],
            camera_principal=torch.as_tensor(principal, dtype=torch.float32, device=device)[None],
        )
        histories, stage_seconds = {}, {}
        for stage_name, stage in context.recipe.root.stages.items():
            stage_started = time.perf_counter()
            histories[stage_name] = run_stage(stage_name, stage, variables, components, target, context.build, label=name)
            stage_seconds[stage_name] = round(time.perf_counter() - stage_started, 2)
        with torch.no_grad():
            result = self._result(name, image, crop, detected, variables, components, target, histories)
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for exporter in exporters.values():
            written += exporter.export(result, folder)
        resolved = context.output / RESOLVED_NAME
        if resolved.exists():  # each face folder is self-contained: how it was made travels with it
            with atomic_write(folder / RESOLVED_NAME) as handle:
                handle.write(resolved.read_text())
            written.append(folder / RESOLVED_NAME)
        fitted = result.landmarks_fitted
        eyes = np.linalg.norm(detected[36:42].mean(0) - detected[42:48].mean(0))
        row = {
            "face": name,
            "status": "ok",
            "seconds": round(time.perf_counter() - started, 2),
            "landmark_error_iod": float(np.linalg.norm(fitted - detected, axis=1).mean() / max(eyes, 1e-6)),
        }
        row.update({f"loss_{k}": h.totals[-1] for k, h in histories.items() if h.totals})
        row.update({f"seconds_{k}": v for k, v in stage_seconds.items()})
        pictures = [p for p in written if p.suffix == ".png"]
        preview = next((p for p in pictures if p.name == "render.png"), pictures[0] if pictures else None)
        row["preview"] = str(preview) if preview else ""
        row["outputs"] = [str(p) for p in written]
        with atomic_write(folder / COMPLETE_MARKER) as handle:
            json.dump(row, handle, indent=2)
        return row

    def _result(self, name, image, crop, detected, variables, components, target, histories) -> FaceResult:
        """Final geometry and renders, expressed in the photo's own pixel frame."""
        model = components.model
        inputs = evaluate(variables, components, target, need_render=False)
        vertices = variables.camera_vertices()
        base = variables.base_textures()
        textures = variables.textures(base)
        height, width = image.shape[:2]
        focal_photo = float(variables.focal) / crop.scale
        renders = self._photo_renders(image, variables, components, textures, focal_photo)
        light = variables.light.detach()
        return FaceResult(
            name=name,
            image=image,
            vertices=vertices[0].cpu().numpy(),
            faces=model.faces.cpu().numpy(),
            uvs=model.uvs.cpu().numpy(),
            normals=vertex_normals(vertices, model.faces)[0].cpu().numpy(),
            diffuse=textures.diffuse[0].clamp(0, 1).cpu().numpy(),
            specular=textures.specular[0].clamp(0, 1).cpu().numpy(),
            roughness=textures.roughness[0].clamp(0, 1).cpu().numpy(),
            focal=focal_photo,
            rotation=variables.rotation[0].cpu().numpy(),
            translation=variables.translation[0].cpu().numpy(),
            light=light[0].cpu().numpy(),
            coefficients={k: v[0].detach().cpu().numpy() for k, v in variables.coefficients().items() if k != "light"},
            landmarks_detected=detected,
            landmarks_fitted=crop.to_photo(inputs.landmarks_pred[0].cpu().numpy()),
            landmark_vertices=model.landmarks.cpu().numpy(),
            envmap=components.lighting.environment_map(light, *self.params.envmap_size)[0].cpu().numpy(),
            renders=renders,
            losses={k: h.totals for k, h in histories.items()},
            info={"image_size": [int(width), int(height)], "crop": {"x0": crop.x0, "y0": crop.y0, "scale": crop.scale,
                                                                   "size": crop.size}},
        )

    def _photo_renders(self, image, variables, components, textures, focal_photo: float) -> dict:
        """Render the fit over the whole photo (downscaled to ``render_max_side``)."""
        height, width = image.shape[:2]
        scale = min(1.0, self.params.render_max_side / max(height, width))
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        vertices = variables.camera_vertices()
        camera = Camera(focal=torch.tensor([focal_photo * scale], device=vertices.device), width=w, height=h)
        model = components.model
        mesh = Mesh(vertices=vertices, faces=model.faces, uvs=model.uvs, normals=vertex_normals(vertices, model.faces))
        scene = Scene(mesh=mesh, camera=camera, textures=textures, light=variables.light,
                      lighting=components.lighting, reflectance=components.reflectance)
        out = components.renderer.render(scene)
        # Illumination: the light's irradiance over a white Lambertian surface, E(n)/π.
        irradiance = components.lighting.irradiance(variables.light, out.normals.reshape(1, -1, 3))
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
