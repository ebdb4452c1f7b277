"""Synthetic training and validation faces: drawn from the components' priors, rendered into crops.

A sampler (:class:`PriorSampler`; anything with its ``draw`` method fits) draws the physical values
of random faces — identity, expression and albedo coefficients from the model's priors, a head
pose, a photo camera, a light (an ambient plus a directional lobe, projected onto the lighting's
coefficients) and per-texel albedo offsets — and where their photo's camera is.
:func:`synthetic_faces` frames each face as the tasks frame photos (:func:`.crop.crop_around` on
its landmarks, jittered like a detector), renders it straight into the crop with the chosen
renderer over a background cut from a scikit-image picture, adds sensor noise and keeps the
ground truth in the crop's camera frame. Sets are cached under the cache folder.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from facerecon.envmap import latlong_directions
from facerecon.geometry import apply_pose, euler_to_matrix, project
from facerecon.heads import CropFraming
from facerecon.imaging import linear_to_srgb, srgb_to_linear
from facerecon.layout import TEXTURE_CHANNELS
from facerecon.pipeline import FacePipeline, FaceTargets

from .crop import Crop, crop_around
from .facesets import FaceSet, stack_uint8

__all__ = ["PriorSampler", "DrawnFaces", "synthetic_faces", "project_light"]

#: Photo width in pixels the sampler's cameras are expressed in (only ratios matter).
PHOTO_WIDTH = 1000.0
#: Sharpness of the directional light's lobe, max(0, cos)^n.
SUN_LOBE = 6


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


class DrawnFaces(dict):
    """Physical values of drawn faces by group (B, ...), with the photo camera: ``photo_focal`` (B,)
    pixels and ``photo_width``; the principal point is the photo's centre."""


class PriorSampler:
    """Draws random faces from the pipeline's priors (module docstring).

    Args:
        pipeline: the face pipeline (model, lighting, layout).
        params: the train task's ``synthetic`` params.
        framing: the crop framing (its anchor is placed in the photo).
    """

    def __init__(self, pipeline: FacePipeline, params: Any, framing: CropFraming) -> None:
        self.pipeline, self.params, self.framing = pipeline, params, framing

    def draw(self, count: int, generator: torch.Generator) -> DrawnFaces:
        """Physical values of ``count`` random faces (on the model's device)."""
        p, layout, model = self.params, self.pipeline.layout, self.pipeline.model
        device = model.faces.device

        def normal(*shape) -> torch.Tensor:
            return torch.randn(*shape, generator=generator)

        def uniform(low: float, high: float, *shape) -> torch.Tensor:
            return low + (high - low) * torch.rand(*shape, generator=generator)

        def coefficients(group: str, std: float) -> torch.Tensor:
            return (normal(count, *layout[group].shape) * std).clamp(-p.coefficient_limit, p.coefficient_limit)

        values = DrawnFaces()
        values["identity"] = coefficients("identity", p.identity_std)
        values["expression"] = coefficients("expression", p.expression_std)
        if "albedo" in layout:
            values["albedo"] = coefficients("albedo", p.albedo_std)
        limits = torch.tensor([p.pitch_deg, p.yaw_deg, p.roll_deg]).mul(math.pi / 180.0)
        angles = uniform(-1.0, 1.0, count, 3) * limits + torch.tensor([math.pi, 0.0, 0.0])
        rotation = euler_to_matrix(angles)
        width = PHOTO_WIDTH
        focal = uniform(*p.focal, count) * width
        depth = focal * self.framing.extent / (uniform(*p.face_fraction, count) * width)
        centre = uniform(-p.offset, p.offset, count, 2) * width
        ray = torch.cat([centre / focal[:, None], torch.ones(count, 1)], -1)
        anchor = torch.tensor(self.framing.anchor)
        values["rotation"] = rotation
        values["translation"] = ray * depth[:, None] - rotation @ anchor
        values["light"] = self._light(count, generator).cpu()
        values["textures"] = self._textures(values.get("albedo"), count, generator)
        out = DrawnFaces({k: v.to(device) for k, v in values.items()})
        out["photo_focal"] = focal.to(device)
        out["photo_width"] = width
        return out

    def _light(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """An ambient light plus a directional lobe from the camera's side, on the lighting's coefficients."""
        p = self.params
        ambient = torch.empty(count, 1).uniform_(*p.ambient, generator=generator)
        ambient = ambient * (1.0 + 0.08 * torch.randn(count, 3, generator=generator)).clamp(min=0.5)
        sun = torch.empty(count, 1).uniform_(*p.sun, generator=generator)
        sun = sun * (1.0 + 0.08 * torch.randn(count, 3, generator=generator)).clamp(min=0.5)
        cos_max = math.cos(math.radians(p.sun_angle_deg))
        cos_theta = torch.empty(count).uniform_(cos_max, 1.0, generator=generator)
        phi = torch.empty(count).uniform_(0.0, 2 * math.pi, generator=generator)
        sin_theta = (1 - cos_theta ** 2).clamp(min=0).sqrt()
        direction = torch.stack([sin_theta * phi.cos(), sin_theta * phi.sin(), -cos_theta], -1)
        above = torch.rand(count, generator=generator) < 0.75  # camera y points down: light from above is y < 0
        direction[:, 1] = torch.where(above, -direction[:, 1].abs(), direction[:, 1])
        lighting = self.pipeline.lighting
        norm = (SUN_LOBE + 1) / (2 * math.pi)

        def radiance(directions: torch.Tensor) -> torch.Tensor:
            cosine = (directions @ direction.T.to(directions)).clamp(min=0).T  # (B, N)
            lobe = norm * cosine.pow(SUN_LOBE)
            return ambient[:, None, :].to(directions) + lobe[..., None] * sun[:, None, :].to(directions)

        return project_light(lighting, radiance)

    def _textures(self, albedo: torch.Tensor | None, count: int, generator: torch.Generator) -> torch.Tensor:
        """Per-texel offsets (B, T, T, 7): a skin tone (multiplicative, per channel), smooth diffuse
        variation, and small specular and roughness changes."""
        p, model = self.params, self.pipeline.model
        size = int(model.texture_size)
        with torch.no_grad():
            base = model.textures(None if albedo is None else albedo.to(model.faces.device), count)
        diffuse = base.diffuse.cpu()
        tone = p.skin_tone * (torch.randn(count, 1, 1, 1, generator=generator)
                              + 0.3 * torch.randn(count, 1, 1, 3, generator=generator))
        smooth = torch.nn.functional.interpolate(torch.randn(count, 3, 6, 6, generator=generator), size=(size, size),
                                                 mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
        parts = {
            "diffuse": diffuse * (tone.exp() - 1.0) + p.texture_noise * smooth,
            "specular": 0.01 * torch.randn(count, 1, 1, 1, generator=generator).expand(count, size, size, 3),
            "roughness": 0.05 * torch.randn(count, 1, 1, 1, generator=generator).expand(count, size, size, 1),
        }
        return torch.cat([parts[name] for name, _ in TEXTURE_CHANNELS], -1)


def _backgrounds(names: list[str]) -> list[np.ndarray]:
    """The named scikit-image pictures as float32 linear RGB."""
    import skimage.data

    pictures = []
    for name in names:
        image = np.asarray(getattr(skimage.data, name)())
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, -1)
        pictures.append(srgb_to_linear(image[..., :3].astype(np.float32) / 255.0))
    return pictures


def _background(pictures: list[np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    """A random window of a random picture, resized to size², with a random brightness (grey without pictures)."""
    import cv2

    if not pictures:
        return np.full((size, size, 3), rng.uniform(0.05, 0.5), np.float32)
    picture = pictures[rng.integers(len(pictures))]
    height, width = picture.shape[:2]
    side = int(rng.uniform(0.3, 1.0) * min(height, width))
    y, x = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
    window = cv2.resize(picture[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        window = window[:, ::-1]
    return (window * rng.uniform(0.3, 1.3)).astype(np.float32)


def _jittered(crop: Crop, amount: float, rng: np.random.Generator) -> Crop:
    """``crop`` shifted and rescaled by about ``amount`` crop sides."""
    side = crop.size / crop.scale
    centre = np.array([crop.x0, crop.y0]) + side / 2 + rng.normal(0.0, amount, 2) * side
    side = side * math.exp(rng.normal(0.0, amount))
    return Crop(x0=float(centre[0] - side / 2), y0=float(centre[1] - side / 2), scale=crop.size / side, size=crop.size)


def set_key(pipeline: FacePipeline, renderer: Any, params: Any, size: int, margin: float, focal: float) -> str:
    """A digest of everything a synthetic set depends on (not the count or the seed)."""
    model = pipeline.model
    digest = hashlib.sha256()
    with torch.no_grad():
        mean = model.shape(torch.zeros(1, model.n_identity, device=model.faces.device),
                           torch.zeros(1, model.n_expression, device=model.faces.device), model.landmarks)
    digest.update(np.ascontiguousarray(mean.cpu().numpy()).tobytes())
    settings = {"version": 1, "size": size, "margin": margin, "focal": focal, "synthetic": repr(params),
                "layout": pipeline.layout.describe(), "vertices": model.n_vertices, "textures": int(model.texture_size)}
    for component in (model, pipeline.lighting, pipeline.reflectance, renderer):
        settings[type(component).__name__] = repr(getattr(component, "params", None))
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def synthetic_faces(pipeline: FacePipeline, renderer: Any, sampler: Any, params: Any, count: int, seed: int,
                    size: int, margin: float, cache: Path | None, label: str = "synthetic faces",
                    chunk: int = 16) -> FaceSet:
    """``count`` synthetic faces rendered into ``size``² crops (module docstring), read from
    ``cache`` when it holds them (the first faces of a larger cached set are those of a smaller one).

    Args:
        pipeline: decodes the drawn values; renderer: renders them.
        sampler: draws faces (``draw(count, generator) -> DrawnFaces``).
        params: the ``synthetic`` params (jitter, noise, backgrounds).
        count, seed: how many faces, and the seed of face i's generator (seed, i).
        size, margin: the crop side and framing margin.
        cache: folder of cached sets, or None.
    """
    from tqdm import tqdm

    path = None if cache is None else cache / f"seed{seed}.safetensors"
    if path is not None and path.exists():
        cached = FaceSet.load(path)
        if len(cached) >= count:
            return cached.subset(range(count))
    device = pipeline.model.faces.device
    pictures = _backgrounds(list(params.backgrounds))
    parts = []
    for start in tqdm(range(0, count, chunk), desc=label, leave=False, disable=None):
        indices = list(range(start, min(count, start + chunk)))
        parts.append(_render_chunk(pipeline, renderer, sampler, params, indices, seed, size, margin, pictures, device))
    faces = FaceSet.concat(parts)
    if path is not None:
        faces.save(path)
    return faces


def _render_chunk(pipeline, renderer, sampler, params, indices, seed, size, margin, pictures, device) -> FaceSet:
    """Faces ``indices``, each drawn with its own generator so that a face never depends on the chunking."""
    drawn = [sampler.draw(1, torch.Generator().manual_seed(seed * 1_000_003 + i)) for i in indices]
    values = {k: torch.cat([d[k] for d in drawn]) for k in drawn[0] if k not in ("photo_focal", "photo_width")}
    photo_focal = torch.cat([d["photo_focal"] for d in drawn])
    width = float(drawn[0]["photo_width"])
    count = len(indices)
    model = pipeline.model
    with torch.no_grad():
        points = apply_pose(model.shape(values["identity"], values["expression"], model.landmarks),
                            values["rotation"], values["translation"])
        photo_landmarks = project(points, photo_focal, int(width), int(width)).cpu().numpy()
    crops, rngs = [], []
    for i, index in enumerate(indices):
        rng = np.random.default_rng([seed, index])
        crops.append(_jittered(crop_around(photo_landmarks[i], size, margin), params.jitter, rng))
        rngs.append(rng)
    scale = torch.tensor([c.scale for c in crops], device=device, dtype=torch.float32)
    principal = torch.tensor(np.stack([c.to_crop(np.array([[width / 2, width / 2]]))[0] for c in crops]),
                             device=device, dtype=torch.float32)
    values["focal"] = photo_focal * scale
    targets = FaceTargets(image=torch.zeros(count, size, size, 3, device=device), principal=principal)
    with torch.no_grad():
        faces = pipeline.decode(values, targets)
        render = pipeline.render(faces, renderer)
    image = render.image.clamp(min=0).cpu().numpy()
    mask = render.mask.clamp(0, 1).cpu().numpy()[..., None]
    pictures_out, landmarks = [], []
    for i, rng in enumerate(rngs):
        photo = image[i] + (1.0 - mask[i]) * _background(pictures, size, rng)
        srgb = linear_to_srgb(np.clip(photo, 0.0, 1.0)) * 255.0 + rng.normal(0.0, params.noise, photo.shape)
        pictures_out.append(np.clip(np.round(srgb), 0, 255).astype(np.uint8))
        landmarks.append(crops[i].to_crop(photo_landmarks[i]))
    truth = {k: v.detach().cpu().float() for k, v in values.items() if k != "textures"}
    return FaceSet(images=stack_uint8(pictures_out), principal=principal.cpu(),
                   landmarks=torch.tensor(np.stack(landmarks), dtype=torch.float32),
                   confidence=torch.ones(count, 68), names=[f"synthetic{seed}_{i:05d}" for i in indices], truth=truth)
