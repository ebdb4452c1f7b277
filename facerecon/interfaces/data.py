"""Typed data passed between stages, with tensor shapes.

Conventions (docs/architecture.md): images and texture maps are channel-last, float32, **linear** RGB in
[0, 1] unless said otherwise; B is the batch size. Texture coordinates: u right, v up, both in
[0, 1]; texel row 0 is the top of the map (v = 1), as in OBJ/glTF files written by our exporters.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..geometry import project

__all__ = ["Camera", "Mesh", "Textures", "Scene", "RenderOutput", "FaceBox", "Landmarks", "Sample", "FaceResult"]


@dataclass
class Camera:
    """Pinhole camera, OpenCV convention.

    Attributes:
        focal: (B,) focal length in pixels.
        width: image width in pixels.
        height: image height in pixels.
        principal: (B, 2) principal point in pixels, or None for the image centre. Tasks that
            fit on a crop of a photo use it so the camera frame stays the photo's own.
    """

    focal: torch.Tensor
    width: int
    height: int
    principal: torch.Tensor | None = None

    def centre(self) -> torch.Tensor:
        """(B, 2) principal point in pixels."""
        if self.principal is not None:
            return self.principal
        return self.focal.new_tensor([self.width / 2.0, self.height / 2.0]).expand(self.focal.shape[0], 2)

    def project(self, points: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) camera-frame points -> (B, N, 2) pixel coordinates."""
        return project(points, self.focal, self.width, self.height, self.principal)

    def rays(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) pixel coordinates -> (B, N, 3) unit view directions from the camera."""
        xy = (pixels - self.centre()[:, None, :]) / self.focal.view(-1, 1, 1)
        return torch.nn.functional.normalize(torch.cat([xy, torch.ones_like(xy[..., :1])], -1), dim=-1)


@dataclass
class Mesh:
    """A triangle mesh in the camera frame.

    Attributes:
        vertices: (B, V, 3) camera-frame positions in mm.
        faces: (F, 3) long vertex indices, counter-clockwise seen from outside in the model frame.
        uvs: (V, 2) texture coordinates in [0, 1].
        normals: (B, V, 3) unit vertex normals in the camera frame.
    """

    vertices: torch.Tensor
    faces: torch.Tensor
    uvs: torch.Tensor
    normals: torch.Tensor


@dataclass
class Textures:
    """Reflectance maps in UV space, linear.

    Attributes:
        diffuse: (B, T, T, 3) diffuse albedo.
        specular: (B, T, T, 3) specular albedo (ρs of the Schlick term).
        roughness: (B, T, T, 1) roughness in (0, 1].
    """

    diffuse: torch.Tensor
    specular: torch.Tensor
    roughness: torch.Tensor


@dataclass
class Scene:
    """Everything a renderer needs for one batch.

    Attributes:
        mesh: geometry in the camera frame.
        camera: intrinsics; the render has the camera's width and height.
        textures: reflectance maps.
        light: (B, K, 3) lighting coefficients (for ``sh``: K = bands², real SH radiance).
        lighting: the lighting component that interprets ``light``.
        reflectance: the BRDF component.
    """

    mesh: Mesh
    camera: Camera
    textures: Textures
    light: torch.Tensor
    lighting: Any
    reflectance: Any


@dataclass
class RenderOutput:
    """What a renderer returns; pixels nothing covers are 0 (triangle id -1).

    Attributes:
        image: (B, H, W, 3) linear radiance.
        mask: (B, H, W) coverage in [0, 1] (differentiable where the renderer supports it).
        depth: (B, H, W) camera-frame z in mm.
        normals: (B, H, W, 3) unit shading normals, camera frame.
        uv: (B, H, W, 2) interpolated texture coordinates.
        triangle_id: (B, H, W) long, -1 where empty.
        extras: renderer-specific images (e.g. ``diffuse_shading``), each (B, H, W, C).
    """

    image: torch.Tensor
    mask: torch.Tensor
    depth: torch.Tensor
    normals: torch.Tensor
    uv: torch.Tensor
    triangle_id: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class FaceBox:
    """A detected face: corners in pixels (x right, y down), a detector score and the face's roll.

    Attributes:
        x0, y0, x1, y1: the axis-aligned box.
        score: the detector's score (scales differ between detectors).
        roll: in-plane rotation of the face in radians: the angle from the image's x axis to the
            line from the subject's right eye to their left eye (y down, so positive is clockwise
            on screen; ±π for an upside-down face). 0 for an upright face and for detectors that
            do not measure it. Landmark detectors turn their crop by it.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    roll: float = 0.0

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)


@dataclass
class Landmarks:
    """The 68 iBUG landmarks of one face, with the detector's confidence in each.

    Attributes:
        points: (68, 2) float32 pixel coordinates (x right, y down, pixel centres at +0.5).
        confidence: (68,) float32 in [0, 1]; 0 marks a point the detector saw as hidden or
            unreliable (losses then ignore it), 1 a point it is sure of.
    """

    points: np.ndarray
    confidence: np.ndarray


@dataclass
class Sample:
    """One input image from a dataset.

    Attributes:
        name: stem used for the output folder.
        image: (H, W, 3) uint8 sRGB, or None when it could not be read.
        path: source file, if any.
        error: why the image could not be read (the batch reports it and goes on).
        truth: ground-truth file of the photo (a :class:`facerecon.evaluation.truth.FaceTruth` written
            by :func:`facerecon.evaluation.truth.save_truth`), for datasets with known geometry; None
            for ordinary photos.
    """

    name: str
    image: np.ndarray | None
    path: Path | None = None
    error: str | None = None
    truth: Path | None = None


@dataclass
class FaceResult:
    """A finished reconstruction of one face, as numpy arrays, for exporters.

    All geometry is in the camera frame of the **original** input image (mm), and all pixel
    coordinates are in the original image's pixel frame.

    Attributes:
        name: output folder name (``<image-stem>[_faceN]``).
        image: (H, W, 3) uint8 sRGB input photo.
        vertices: (V, 3) camera-frame vertices in mm.
        faces: (F, 3) int vertex indices.
        uvs: (V, 2) texture coordinates.
        normals: (V, 3) unit vertex normals.
        diffuse: (T, T, 3) linear diffuse albedo map.
        specular: (T, T, 3) linear specular albedo map.
        roughness: (T, T, 1) roughness map.
        focal: focal length in pixels (principal point at the image centre).
        rotation: (3,) Euler angles in radians (R = Rz·Ry·Rx).
        translation: (3,) mm.
        light: (K, 3) lighting coefficients.
        lighting: what produced ``light``: ``{"type": registered name, "params": {...},
            "convention": one sentence on the coefficients' meaning}`` (empty when unknown).
        coefficients: named coefficient vectors (identity, expression, ...).
        landmarks_detected: (68, 2) pixels, or None.
        landmarks_fitted: (68, 2) pixels, or None.
        landmark_vertices: (68,) vertex index of each landmark (iBUG-68 order), or None.
        envmap: (He, We, 3) linear lat-long environment map, or None.
        renders: named (H, W, 3) float linear images (``render``, ``overlay``, ``diffuse_shading``...).
        losses: per stage, the list of total loss values per step.
        info: anything else worth writing to params.json (model name, plugin versions...).
    """

    name: str
    image: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    normals: np.ndarray
    diffuse: np.ndarray
    specular: np.ndarray
    roughness: np.ndarray
    focal: float
    rotation: np.ndarray
    translation: np.ndarray
    light: np.ndarray
    lighting: dict[str, Any] = field(default_factory=dict)
    coefficients: dict[str, np.ndarray] = field(default_factory=dict)
    landmarks_detected: np.ndarray | None = None
    landmarks_fitted: np.ndarray | None = None
    landmark_vertices: np.ndarray | None = None
    envmap: np.ndarray | None = None
    renders: dict[str, np.ndarray] = field(default_factory=dict)
    losses: dict[str, list[float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
