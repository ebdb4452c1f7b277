"""Helpers shared by the built-in detectors: errors, box ordering, upright crops."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facerecon.errors import FaceReconError
from facerecon.interfaces import FaceBox
from facerecon.landmark_bias import LandmarkBias

#: Folder of the built-in landmark detectors' measured biases, ``<detector name>.npz``.
BIAS_FOLDER = Path(__file__).with_name("bias")

__all__ = ["DetectorSetupError", "BackendUnavailable", "best_first", "UprightCrop", "upright_crop"]


class DetectorSetupError(FaceReconError):
    """A detector cannot be built: missing library or missing model file."""


class BackendUnavailable(DetectorSetupError):
    """A library or model file a detector needs is not installed (the ``auto`` detectors skip it)."""


def best_first(boxes: list[FaceBox]) -> list[FaceBox]:
    """Boxes sorted by score, then area, highest first."""
    return sorted(boxes, key=lambda box: (box.score, box.area), reverse=True)


@dataclass
class UprightCrop:
    """A square crop of a photo, turned so that the face in it is upright.

    Attributes:
        image: (size, size, 3) uint8 crop.
        to_photo: (2, 3) affine from crop pixel coordinates to photo pixel coordinates
            (continuous coordinates, pixel centres at +0.5, in both).
    """

    image: np.ndarray
    to_photo: np.ndarray

    @property
    def scale(self) -> float:
        """Photo pixels per crop pixel."""
        return float(np.hypot(*self.to_photo[:, 0]))

    def points_to_photo(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) crop pixel coordinates -> photo pixel coordinates."""
        return points @ self.to_photo[:, :2].T + self.to_photo[:, 2]


def upright_crop(image: np.ndarray, centre: tuple[float, float], side: float, roll: float, size: int) -> UprightCrop:
    """The square of ``side`` photo pixels centred on ``centre`` and turned by ``roll`` radians,
    resampled to ``size`` × ``size`` pixels (zeros outside the photo).

    ``roll`` is :attr:`FaceBox.roll`: the crop's x axis runs along the angle ``roll`` in the
    photo, so a face tilted by ``roll`` comes out upright. Large downscales are done by area
    averaging first, so small crops of big photos do not alias.
    """
    import cv2

    step = side / size  # photo pixels per crop pixel
    cos, sin = math.cos(roll) * step, math.sin(roll) * step
    linear = np.array([[cos, -sin], [sin, cos]])
    offset = np.asarray(centre, np.float64) - linear @ np.array([size / 2.0, size / 2.0])
    to_photo = np.concatenate([linear, offset[:, None]], axis=1)
    source, to_source = image, to_photo
    if step > 2.0:  # shrink the region around the crop by area averaging, then warp
        reach = side * 0.75  # half the diagonal of the square, plus a margin
        h, w = image.shape[:2]
        x0, y0 = max(0, int(centre[0] - reach)), max(0, int(centre[1] - reach))
        x1, y1 = min(w, int(math.ceil(centre[0] + reach))), min(h, int(math.ceil(centre[1] + reach)))
        if x1 > x0 and y1 > y0:
            shrink = 1.5 / step  # keep 1.5 source pixels per crop pixel
            region = image[y0:y1, x0:x1]
            rw, rh = max(1, round((x1 - x0) * shrink)), max(1, round((y1 - y0) * shrink))
            source = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
            sx, sy = rw / (x1 - x0), rh / (y1 - y0)
            to_source = np.array([[sx, 0.0], [0.0, sy]]) @ (to_photo - np.array([[0, 0, x0], [0, 0, y0]]))
    # cv2 maps integer pixel indices: index = continuous coordinate - 0.5 on both sides.
    indices = to_source.copy()
    indices[:, 2] += indices[:, :2] @ np.array([0.5, 0.5]) - 0.5
    crop = cv2.warpAffine(source, indices, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return UprightCrop(crop, to_photo)


def shipped_bias(detector: str, enabled: bool) -> LandmarkBias | None:
    """The bias of built-in landmark detector ``detector`` measured by scripts/calibrate_landmarks.py,
    or None when ``enabled`` (its ``correct_bias`` parameter) is off."""
    if not enabled:
        return None
    path = BIAS_FOLDER / f"{detector}.npz"
    if not path.is_file():
        raise DetectorSetupError(
            f"landmark_detector '{detector}': its bias file {path} is missing. Reinstall facerecon, or "
            "measure it with scripts/calibrate_landmarks.py, or set correct_bias: false to use the raw points."
        )
    return LandmarkBias.load(path)
