"""JSON exports: ``params.json`` (everything numeric about the fit) and ``landmarks.json``.

All numbers are plain JSON (non-finite values become ``null``); matrices are nested row lists.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from facerecon.interfaces import Exporter, FaceResult
from facerecon.io import atomic_write

from facerecon.geometry import euler_to_matrix

from .frames import extrinsic_matrix, intrinsic_matrix

__all__ = ["ParamsExporter", "LandmarksExporter", "CONVENTIONS", "to_jsonable", "write_json",
           "landmark_errors"]

#: Written verbatim under ``conventions`` in params.json.
CONVENTIONS = {
    "units": "mm",
    "camera_frame": "OpenCV: camera at the origin looking along +z, x right, y down",
    "model_frame": "y up, +z out of the face",
    "pose": "v_cam = R*v_model + t; R = Rz*Ry*Rx from Euler angles (rx, ry, rz) in radians",
    "pixels": "x right, y down; pixel (0, 0) covers [0, 1)^2, so K @ v / z gives pixel coordinates",
    "colour": "input image sRGB; texture maps, light and renders linear RGB",
    "uv": "u right, v up in [0, 1]; texel row 0 of a map is v = 1",
}


def to_jsonable(value: Any) -> Any:
    """Numpy arrays/scalars, paths and nested containers -> JSON types; NaN/inf -> None."""
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "tolist"):  # torch tensors in info
        return to_jsonable(value.tolist())
    return str(value)


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented strict JSON, atomically."""
    with atomic_write(path) as handle:
        json.dump(to_jsonable(data), handle, indent=2, allow_nan=False)
        handle.write("\n")


def landmark_errors(result: FaceResult) -> np.ndarray | None:
    """(68,) pixel distances between fitted and detected landmarks, or None if one is missing."""
    if result.landmarks_detected is None or result.landmarks_fitted is None:
        return None
    offsets = np.asarray(result.landmarks_fitted) - np.asarray(result.landmarks_detected)
    return np.linalg.norm(offsets, axis=-1)


def _light(result: FaceResult) -> dict:
    """The light as the lighting component that produced it describes it, with its coefficients."""
    described = {key: result.lighting[key] for key in ("type", "params", "convention") if key in result.lighting}
    return {"type": "unknown", **described, "coefficients": np.asarray(result.light)}


class ParamsExporter(Exporter):
    """Writes ``<filename>.json``: coefficients, pose, camera intrinsics/extrinsics, light,
    conventions, landmarks and the result's info dict."""

    writes_maps = False

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write the JSON file; return its path."""
        height, width = result.image.shape[:2]
        data = {
            "name": result.name,
            "conventions": CONVENTIONS,
            "coefficients": result.coefficients,
            "pose": {
                "rotation_euler": result.rotation,
                "euler_convention": "xyz radians, R = Rz*Ry*Rx",
                "rotation_matrix": euler_to_matrix(result.rotation),
                "translation_mm": result.translation,
            },
            "camera": {
                "intrinsics": {
                    "fx": result.focal, "fy": result.focal, "cx": width / 2.0, "cy": height / 2.0,
                    "width": width, "height": height, "K": intrinsic_matrix(result.focal, width, height),
                },
                "extrinsics": extrinsic_matrix(result.rotation, result.translation),
                "extrinsics_convention": "4x4 model(world) -> OpenCV camera, mm",
            },
            "light": _light(result),
            "landmarks": {"detected": result.landmarks_detected, "fitted": result.landmarks_fitted},
            "mesh": {"vertices": len(result.vertices), "faces": len(result.faces),
                     "texture_size": list(result.diffuse.shape[:2])},
            "losses": result.losses,
            "info": result.info,
        }
        path = Path(folder) / f"{self.params.filename}.json"
        write_json(path, data)
        return [path]


class LandmarksExporter(Exporter):
    """Writes ``<filename>.json``: detected and fitted 68 landmarks (input-image pixels) and the
    mean pixel distance between them. Writes nothing when neither set exists."""

    writes_maps = False

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write the JSON file; return its path (or nothing without landmarks)."""
        if result.landmarks_detected is None and result.landmarks_fitted is None:
            return []
        errors = landmark_errors(result)
        height, width = result.image.shape[:2]
        data = {
            "name": result.name,
            "convention": CONVENTIONS["pixels"] + "; iBUG-68 order",
            "image_size": [width, height],
            "detected": result.landmarks_detected,
            "fitted": result.landmarks_fitted,
            "mean_error_px": None if errors is None else float(errors.mean()),
            "errors_px": errors,
        }
        path = Path(folder) / f"{self.params.filename}.json"
        write_json(path, data)
        return [path]
