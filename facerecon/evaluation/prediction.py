"""What a reconstruction is scored on, in a form independent of the model and the light plugin.

A :class:`Prediction` is one face of a run: the mesh in the photo's camera frame (any topology),
which vertices carry the landmarks, the diffuse albedo at the vertices, the landmarks, the
light as a lat-long environment map, and its render over the photo. The
``prediction`` exporter writes one per face folder (:data:`PREDICTION_FILE`) through
:func:`save_prediction`; :func:`load_prediction` reads it back.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_path

__all__ = ["Prediction", "PREDICTION_FILE", "save_prediction", "load_prediction"]

#: Name of the prediction file in a face folder.
PREDICTION_FILE = "prediction.npz"


@dataclass
class Prediction:
    """A reconstructed face, as the evaluation compares it with the truth. Camera frame: OpenCV, mm.

    Attributes:
        vertices: (V, 3) camera-frame vertices in mm.
        faces: (F, 3) triangles.
        image_size: (width, height) of the photo in pixels.
        landmark_vertices: (68,) vertex of each iBUG-68 landmark, or None when unknown.
        vertex_albedo: (V, 3) linear diffuse albedo at the vertices, or None.
        landmarks_fitted: (68, 2) the model's landmarks projected into the photo, or None.
        landmarks_detected: (68, 2) the landmarks the fit was given, or None.
        envmap: (He, We, 3) linear radiance of the fitted light as a lat-long map laid out as
            :mod:`facerecon.envmap` says (camera frame), or None.
        render: (H, W, 3) linear render of the face over a black background, or None.
        mask: (H, W) coverage of ``render`` in [0, 1], or None.
    """

    vertices: np.ndarray
    faces: np.ndarray
    image_size: tuple[int, int]
    landmark_vertices: np.ndarray | None = None
    vertex_albedo: np.ndarray | None = None
    landmarks_fitted: np.ndarray | None = None
    landmarks_detected: np.ndarray | None = None
    envmap: np.ndarray | None = None
    render: np.ndarray | None = None
    mask: np.ndarray | None = None


_HALF = ("render", "mask")  # stored as float16: 8-bit photos need no more


def save_prediction(prediction: Prediction, path: str | Path) -> Path:
    """Write ``prediction`` as a compressed ``.npz`` (atomically); return the path."""
    arrays = {}
    for f in dataclasses.fields(prediction):
        value = getattr(prediction, f.name)
        if value is not None:
            arrays[f.name] = np.asarray(value, np.float16) if f.name in _HALF else np.asarray(value)
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)
    return path


def load_prediction(path: str | Path) -> Prediction:
    """Read a file written by :func:`save_prediction` (a face folder names its :data:`PREDICTION_FILE`)."""
    path = Path(path)
    if path.is_dir():
        path = path / PREDICTION_FILE
    with np.load(path, allow_pickle=False) as data:
        values = {key: (data[key].astype(np.float32) if key in _HALF else data[key]) for key in data.files}
    values["image_size"] = tuple(int(v) for v in values["image_size"])
    return Prediction(**values)
