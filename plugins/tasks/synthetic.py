"""Synthetic training and validation faces: ground truths drawn like the evaluation's, rendered into crops.

Each face is drawn by :func:`facerecon.evaluation.draw.draw_truth` — identity and expression from
the model's priors, head pose, photo camera, a sun and an ambient light, and a painted diffuse
albedo (skin tone, brows, lips, eyes, nostrils) — with the same distributions the ``evaluate``
task's ``synthetic-faces`` set uses (``synthetic.draw``), but from a random stream of its own, so
no training face is ever one of that set. :func:`synthetic_faces` frames each face as the tasks
frame photos (:func:`.crop.crop_around` on its landmarks, jittered like a detector), renders it
straight into the crop with the chosen renderer (the painted albedo, the drawn specular level
and roughness, the sun and ambient light projected onto the lighting's coefficients) over a
background cut from a scikit-image picture, adds sensor noise and keeps the ground truth in the
crop's camera frame. Sets are cached under the cache folder.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from facerecon.envmap import latlong_directions
from facerecon.evaluation.backgrounds import background
from facerecon.evaluation.draw import draw_truth
from facerecon.geometry import euler_to_matrix
from facerecon.imaging import linear_to_srgb, srgb_to_linear
from facerecon.interfaces import Textures
from facerecon.pipeline import FacePipeline, FaceTargets

from .crop import Crop, crop_around
from .facesets import FaceSet, stack_uint8

__all__ = ["synthetic_faces", "project_light", "sun_and_ambient", "face_generator", "TRAINING_STREAM"]

#: First word of every training face's random stream, ``(TRAINING_STREAM, seed, index)``: the
#: ``synthetic-faces`` dataset draws its face i from ``(seed, i)``, so no seed makes the two meet.
TRAINING_STREAM = 7_340_033
#: Sharpness of the lobe the sun is projected as, max(0, cos)^n (the SH bands cannot hold a point).
SUN_LOBE = 6


def face_generator(seed: int, index: int) -> np.random.Generator:
    """The random generator of training face ``index`` of the set drawn with ``seed``."""
    return np.random.default_rng([TRAINING_STREAM, seed, index])


def project_light(lighting: Any, radiance: Callable[[torch.Tensor], torch.Tensor], rows: int = 24) -> torch.Tensor:
    """Least-squares coefficients of ``lighting`` (linear in its coefficients) for a radiance function.

    Args:
        lighting: a lighting component.
        radiance: (N, 3) unit directions -> (B, N, 3) radiance arriving from them.
        rows: rows of the lat-long grid of directions used (solid-angle weighted).
    Returns:
        (B, K, 3) coefficients.
    """
    directions = latlong_directions(rows, 2 * rows, device=lighting.device).reshape(-1, 3)
    theta = (torch.arange(rows, device=lighting.device) + 0.5) * (math.pi / rows)
    weights = theta.sin()[:, None].expand(rows, 2 * rows).reshape(-1)
    count = int(lighting.n_coeffs)
    unit = torch.eye(count, device=lighting.device)[:, :, None].expand(count, count, 3)
    basis = lighting.radiance(unit, directions[None].expand(count, -1, -1))[..., 0]  # (K, N)
    normal = (basis * weights) @ basis.T
    values = radiance(directions)  # (B, N, 3)
    rhs = torch.einsum("kn,bnc->bkc", basis * weights, values)
    return torch.linalg.solve(normal, rhs)


def sun_and_ambient(lighting: Any, direction: torch.Tensor, irradiance: torch.Tensor,
                    ambient: torch.Tensor) -> torch.Tensor:
    """(B, K, 3) coefficients of ``lighting`` for a sun and a uniform ambient light, as
    :class:`facerecon.evaluation.truth.FaceTruth` describes them.

    The sun becomes a lobe max(0, cos)^n around ``direction`` (B, 3) (unit, camera frame, towards
    the sun), normalised so that a surface facing it receives ``irradiance`` (B, 3); ``ambient``
    (B, 3) is the uniform radiance.
    """
    norm = (SUN_LOBE + 2) / (2 * math.pi)  # ∫ cos^n · cos dω over the hemisphere = 2π / (n + 2)

    def radiance(directions: torch.Tensor) -> torch.Tensor:
        cosine = (directions @ direction.T.to(directions)).clamp(min=0).T  # (B, N)
        lobe = norm * cosine.pow(SUN_LOBE)
        return ambient[:, None, :].to(directions) + lobe[..., None] * irradiance[:, None, :].to(directions)

    return project_light(lighting, radiance)


def _jittered(crop: Crop, amount: float, rng: np.random.Generator) -> Crop:
    """``crop`` shifted and rescaled by about ``amount`` crop sides."""
    side = crop.size / crop.scale
    centre = np.array([crop.x0, crop.y0]) + side / 2 + rng.normal(0.0, amount, 2) * side
    side = side * math.exp(rng.normal(0.0, amount))
    return Crop(x0=float(centre[0] - side / 2), y0=float(centre[1] - side / 2), scale=crop.size / side, size=crop.size)


def set_key(pipeline: FacePipeline, renderer: Any, params: Any, size: int, margin: float) -> str:
    """A digest of everything a synthetic set depends on (not the count or the seed)."""
    model = pipeline.model
    digest = hashlib.sha256()
    with torch.no_grad():
        mean = model.shape(torch.zeros(1, model.n_identity, device=model.faces.device),
                           torch.zeros(1, model.n_expression, device=model.faces.device))
    for array in (mean, model.faces, model.uvs, model.landmarks, model.face_mask):
        digest.update(np.ascontiguousarray(array.detach().cpu().numpy()).tobytes())
    # Face i depends on (seed, i) alone and the seed names the file: sets of any size share one folder.
    drawn = replace(params, count=0, validation=0, seed=0)
    settings = {"version": 2, "size": size, "margin": margin, "synthetic": repr(drawn),
                "layout": pipeline.layout.describe()}
    for component in (pipeline.lighting, pipeline.reflectance, renderer):
        settings[type(component).__name__] = repr(getattr(component, "params", None))
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def synthetic_faces(pipeline: FacePipeline, renderer: Any, params: Any, count: int, seed: int, size: int,
                    margin: float, cache: Path | None, label: str = "synthetic faces", chunk: int = 16) -> FaceSet:
    """``count`` synthetic faces rendered into ``size``² crops (module docstring), read from
    ``cache`` when it holds them (the first faces of a larger cached set are those of a smaller one).

    Args:
        pipeline: decodes the drawn faces; renderer: renders them.
        params: the train task's ``synthetic`` params (draw settings, jitter, noise, backgrounds).
        count, seed: how many faces, and the seed of the set (face i: :func:`face_generator`).
        size, margin: the crop side and framing margin.
        cache: folder of cached sets, or None.
    """
    from tqdm import tqdm

    path = None if cache is None else cache / f"seed{seed}.safetensors"
    cached = FaceSet.load(path) if path is not None and path.exists() else None
    if cached is not None and len(cached) >= count:
        return cached.subset(range(count))
    parts = [cached] if cached is not None else []
    done = len(cached) if cached is not None else 0
    # Said once, also where the progress bar is off (a log, a pipe): rendering can take many minutes.
    where = f"into {path}, read from there by later runs" if path is not None else "(not cached)"
    tqdm.write(f"{label}: rendering {count - done} of {count} {where}")
    # Drawing a face (painting its albedo, cutting its background) runs on the CPU, one face per
    # thread: on a GPU it is most of the work, and numpy, OpenCV and torch release the GIL in it.
    with ThreadPoolExecutor(max_workers=_cpu_count()) as pool:
        for start in tqdm(range(done, count, chunk), desc=label, leave=False, disable=None):
            indices = list(range(start, min(count, start + chunk)))
            parts.append(_render_chunk(pipeline, renderer, params, indices, seed, size, margin, pool))
    faces = FaceSet.concat(parts)
    if path is not None:
        faces.save(path)
    return faces


def _cpu_count() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _render_chunk(pipeline: FacePipeline, renderer: Any, params: Any, indices: list[int], seed: int, size: int,
                  margin: float, pool: Executor) -> FaceSet:
    """Faces ``indices``, each drawn with its own generator so that a face never depends on the
    chunking or on the threads of ``pool`` that draw and composite them."""
    model, device = pipeline.model, pipeline.model.faces.device

    def draw(index: int) -> tuple[Any, Crop, np.random.Generator]:
        rng = face_generator(seed, index)
        truth = draw_truth(model, rng, params.draw)
        return truth, _jittered(crop_around(truth.landmarks, size, margin), params.jitter, rng), rng

    truths, crops, rngs = (list(column) for column in zip(*pool.map(draw, indices)))
    count = len(indices)

    def stacked(name: str, dtype=torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.stack([np.asarray(getattr(t, name)) for t in truths]), dtype=dtype, device=device)

    width, height = truths[0].image_size
    principal = torch.tensor(np.stack([c.to_crop(np.array([[width / 2.0, height / 2.0]]))[0] for c in crops]),
                             dtype=torch.float32, device=device)
    scale = torch.tensor([c.scale for c in crops], dtype=torch.float32, device=device)
    light = sun_and_ambient(pipeline.lighting, stacked("sun_direction"), stacked("sun_irradiance"),
                            stacked("ambient_radiance"))
    values = pipeline.layout.initial(count, device, identity=stacked("identity"), expression=stacked("expression"),
                                     rotation=euler_to_matrix(stacked("rotation")), translation=stacked("translation"),
                                     focal=torch.tensor([t.focal for t in truths], device=device) * scale, light=light)
    diffuse = stacked("diffuse")
    texels = diffuse.shape[1:3]
    # Cook-Torrance's Blinn-Phong roughness r matches a GGX/Beckmann lobe of alpha = r, and the
    # truth's roughness is the principled BSDF's, whose alpha is roughness².
    textures = Textures(diffuse=diffuse,
                        specular=stacked("specular")[:, None, None, None].expand(count, *texels, 3),
                        roughness=stacked("roughness").pow(2)[:, None, None, None].expand(count, *texels, 1))
    targets = FaceTargets(image=torch.zeros(count, size, size, 3, device=device), principal=principal)
    with torch.no_grad():
        faces = replace(pipeline.decode(values, targets, textures=False), textures=textures)
        render = pipeline.render(faces, renderer)
    image = render.image.clamp(min=0).cpu().numpy()
    mask = render.mask.clamp(0, 1).cpu().numpy()[..., None]

    def composite(i: int) -> np.ndarray:
        rng = rngs[i]
        behind = srgb_to_linear(background(rng, list(params.backgrounds), size, size).astype(np.float32) / 255.0)
        photo = image[i] + (1.0 - mask[i]) * behind
        srgb = linear_to_srgb(np.clip(photo, 0.0, 1.0)) * 255.0 + rng.normal(0.0, params.noise, photo.shape)
        return np.clip(np.round(srgb), 0, 255).astype(np.uint8)

    pictures = list(pool.map(composite, range(count)))
    landmarks = [crop.to_crop(truth.landmarks) for crop, truth in zip(crops, truths)]
    truth = {k: v.detach().cpu().float() for k, v in values.items() if k != "textures"}
    return FaceSet(images=stack_uint8(pictures), principal=principal.cpu(),
                   landmarks=torch.tensor(np.stack(landmarks), dtype=torch.float32),
                   confidence=torch.ones(count, 68), names=[f"synthetic{seed}_{i:05d}" for i in indices], truth=truth)
