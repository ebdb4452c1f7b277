"""A landmark detector's systematic offset from a morphable model's landmark vertices.

A detector places each iBUG-68 point where its annotators did (the upper edge of a brow, the
face's outline for the jaw contour); a morphable model's landmarks are fixed vertices. The two
differ by an offset that is mostly the same from face to face: on synthetic faces with known
landmark vertices, 0.045 of dlib's 0.066 inter-ocular mean error is such a bias, largest on the
jaw contour, whose points slide along the face's outline as the head turns. A fit that matches
the model's vertices to the raw points inherits that bias in its shape.

:class:`LandmarkBias` models the offset of each point in the face's own frame and units (so it
holds at any roll and size), as a function of the yaw estimated from the points themselves::

    offset_k = c0_k + c1_k · s + c2_k · |s|,   s = clamp(estimated yaw / 45°, −1, 1)

in outer-eye-corner distances, along (x) and across (y) the line from point 36 to point 45.
:meth:`LandmarkBias.fit` measures it from detected and true points (the calibration script
``scripts/calibrate_landmarks.py`` does so on synthetic faces); :meth:`LandmarkBias.correct`
removes it. Detectors ship their bias as an ``.npz`` file and apply it in ``locate``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .contour import estimated_yaw
from .landmarks import N_LANDMARKS, OUTER_EYE_CORNERS

__all__ = ["LandmarkBias", "YAW_SCALE"]

#: Degrees of estimated yaw that map to s = ±1; beyond it the offset stays that of ±45°.
YAW_SCALE = 45.0
_TERMS = 3  # 1, s, |s|


def _yaw_terms(points: np.ndarray) -> np.ndarray:
    """(N, 68, 2) pixels -> (N, 3) the terms (1, s, |s|) of each face."""
    import torch

    yaw = estimated_yaw(torch.as_tensor(points, dtype=torch.float32)).numpy().astype(np.float64)
    s = np.clip(yaw / YAW_SCALE, -1.0, 1.0)
    return np.stack([np.ones_like(s), s, np.abs(s)], axis=-1)


def _face_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 68, 2) pixels -> (N, 2, 2) rows: the unit axes along and across the outer eye corners'
    line, and (N,) the distance between those corners in pixels."""
    axis = points[:, OUTER_EYE_CORNERS[1]] - points[:, OUTER_EYE_CORNERS[0]]
    distance = np.maximum(np.linalg.norm(axis, axis=-1), 1e-6)
    along = axis / distance[:, None]
    across = np.stack([-along[:, 1], along[:, 0]], axis=-1)
    return np.stack([along, across], axis=1), distance


@dataclass(frozen=True)
class LandmarkBias:
    """A detector's mean offset from the model's landmarks, by point and estimated yaw.

    Attributes:
        coefficients: (3, 68, 2) float64: the terms c0, c1, c2 of each point's offset (module
            docstring), in outer-eye-corner distances in the face's frame.
    """

    coefficients: np.ndarray

    def __post_init__(self) -> None:
        if np.shape(self.coefficients) != (_TERMS, N_LANDMARKS, 2):
            raise ValueError(f"LandmarkBias coefficients must be (3, 68, 2), got {np.shape(self.coefficients)}")

    def offsets(self, points: np.ndarray) -> np.ndarray:
        """(68, 2) or (N, 68, 2) detected pixels -> the same shape: the expected offset of each
        point from the model's landmark, in pixels."""
        batch = np.asarray(points, np.float64).reshape(-1, N_LANDMARKS, 2)
        frame, distance = _face_frame(batch)
        local = np.einsum("nt,tkc->nkc", _yaw_terms(batch), self.coefficients)  # (N, 68, 2)
        offsets = np.einsum("nkc,ncd->nkd", local, frame) * distance[:, None, None]
        return offsets.reshape(np.shape(points))

    def correct(self, points: np.ndarray) -> np.ndarray:
        """(68, 2) or (N, 68, 2) detected pixels -> the points with the offsets removed (float32)."""
        points = np.asarray(points)
        return (points.astype(np.float64) - self.offsets(points)).astype(np.float32)

    @classmethod
    def fit(cls, detected: np.ndarray, truth: np.ndarray, points: Iterable[int] | None = None,
            ridge: float = 1e-3) -> "LandmarkBias":
        """Least-squares bias from (N, 68, 2) detected and (N, 68, 2) true pixel coordinates of the
        same faces, for the landmark indices ``points`` (default all; the others keep offset 0).
        A small ``ridge`` keeps the yaw terms near 0 when the faces barely turn."""
        detected, truth = np.asarray(detected, np.float64), np.asarray(truth, np.float64)
        if detected.ndim != 3 or detected.shape[1:] != (N_LANDMARKS, 2) or detected.shape != truth.shape:
            raise ValueError(f"fit needs (N, 68, 2) detected and true points, got {detected.shape} and {truth.shape}")
        frame, distance = _face_frame(detected)
        local = np.einsum("nkd,ncd->nkc", detected - truth, frame) / distance[:, None, None]
        terms = _yaw_terms(detected)
        normal = terms.T @ terms + ridge * len(terms) * np.eye(_TERMS)
        solution = np.linalg.solve(normal, terms.T @ local.reshape(len(terms), -1)).reshape(_TERMS, N_LANDMARKS, 2)
        if points is not None:
            kept = np.zeros(N_LANDMARKS, bool)
            kept[list(points)] = True
            solution[:, ~kept] = 0.0
        return cls(solution)

    def save(self, path: str | Path) -> None:
        """Write the coefficients to an ``.npz`` file."""
        np.savez(path, coefficients=self.coefficients)

    @classmethod
    def load(cls, path: str | Path) -> "LandmarkBias":
        """Read a bias written by :meth:`save`."""
        with np.load(path) as data:
            return cls(np.asarray(data["coefficients"], np.float64))
