"""The ground truth of one face photo, as datasets with known geometry provide it, and its file.

A :class:`FaceTruth` holds what the photo was made from: the mesh in the photo's camera frame,
the camera, the landmarks, the reflectance and the light. Datasets store one ``.npz`` per photo
(:func:`save_truth`) and name it in :attr:`facerecon.interfaces.Sample.truth`;
:func:`load_truth` reads it back.

The light is a sun (a distant directional light) plus a uniform ambient light, the lighting
photographers and independent renderers know, not any lighting plugin's parameters: a surface
of normal n, unshadowed, receives the irradiance
``E(n) = π·ambient_radiance + sun_irradiance·max(0, n·sun_direction)``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import atomic_path

__all__ = ["FaceTruth", "save_truth", "load_truth", "TRUTH_FORMAT"]

#: Version of the ``.npz`` layout written by :func:`save_truth`.
TRUTH_FORMAT = 1


@dataclass
class FaceTruth:
    """What one synthetic (or scanned) face photo shows. Camera frame: OpenCV, mm.

    Attributes:
        model: name of the morphable model the face was drawn from (``bfm-lite``), or ``""``.
        identity: (Ki,) identity coefficients in standard deviations.
        expression: (Ke,) expression coefficients in standard deviations.
        rotation: (3,) Euler angles in radians (R = Rz·Ry·Rx) of the model-to-camera pose.
        translation: (3,) mm.
        focal: focal length in pixels; the principal point is the image centre.
        image_size: (width, height) of the photo in pixels.
        vertices: (V, 3) camera-frame vertices in mm.
        faces: (F, 3) triangles.
        uvs: (V, 2) texture coordinates of the maps (u right, v up; row 0 of a map is v = 1).
        landmark_vertices: (68,) vertex index of each iBUG-68 landmark.
        face_mask: (V,) bool, the model's face region.
        diffuse: (T, T, 3) linear diffuse albedo map.
        specular: specular reflectance at normal incidence (Fresnel F0), linear.
        roughness: microfacet roughness (GGX alpha = roughness²).
        sun_direction: (3,) unit vector from the face towards the sun, camera frame.
        sun_irradiance: (3,) linear RGB irradiance of the sun on a surface facing it.
        ambient_radiance: (3,) linear RGB radiance of the uniform ambient light.
        baselines: named (V, 3) model-frame shapes that reference predictions use (``mean-face``:
            identity = expression = 0; ``expression-only``: mean identity with the true expression).
        alpha: (H, W) float coverage of the head in the photo, or None before rendering.
        region: (H, W) bool pixels showing the face region, or None before rendering.
    """

    model: str
    identity: np.ndarray
    expression: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    focal: float
    image_size: tuple[int, int]
    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    landmark_vertices: np.ndarray
    face_mask: np.ndarray
    diffuse: np.ndarray
    specular: float
    roughness: float
    sun_direction: np.ndarray
    sun_irradiance: np.ndarray
    ambient_radiance: np.ndarray
    baselines: dict[str, np.ndarray] = field(default_factory=dict)
    alpha: np.ndarray | None = None
    region: np.ndarray | None = None

    @property
    def landmarks(self) -> np.ndarray:
        """(68, 2) landmarks projected into the photo (pixels, x right, y down)."""
        points = self.vertices[self.landmark_vertices].astype(np.float64)
        width, height = self.image_size
        return points[:, :2] / points[:, 2:3] * self.focal + np.array([width / 2.0, height / 2.0])

    def irradiance(self, normals: np.ndarray) -> np.ndarray:
        """(N, 3) unshadowed irradiance (linear RGB) on surfaces with (N, 3) unit camera-frame normals."""
        cosine = np.clip(np.asarray(normals, np.float64) @ self.sun_direction, 0.0, None)
        return math.pi * self.ambient_radiance[None, :] + cosine[:, None] * self.sun_irradiance[None, :]


_SCALARS = ("model", "focal", "specular", "roughness")


def save_truth(truth: FaceTruth, path: str | Path) -> Path:
    """Write ``truth`` as a compressed ``.npz`` (atomically) and return the path."""
    arrays: dict[str, np.ndarray] = {"format": np.array(TRUTH_FORMAT)}
    for f in dataclasses.fields(truth):
        value = getattr(truth, f.name)
        if f.name == "baselines":
            arrays.update({f"baseline/{k}": np.asarray(v, np.float32) for k, v in value.items()})
        elif value is not None:
            arrays[f.name] = np.asarray(value)
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)
    return path


def load_truth(path: str | Path) -> FaceTruth:
    """Read a file written by :func:`save_truth`."""
    with np.load(path, allow_pickle=False) as data:
        values = {key: data[key] for key in data.files}
    values.pop("format", None)
    baselines = {key.split("/", 1)[1]: values.pop(key) for key in list(values) if key.startswith("baseline/")}
    for name in _SCALARS:
        values[name] = values[name].item()
    values["image_size"] = tuple(int(v) for v in values["image_size"])
    return FaceTruth(**values, baselines=baselines)
