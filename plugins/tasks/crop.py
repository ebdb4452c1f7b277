"""Square face crops: where a fit looks, and how its pixels map back to the photo."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Crop", "crop_around"]


@dataclass(frozen=True)
class Crop:
    """An axis-aligned square window of a photo, resampled to ``size``×``size`` pixels.

    Continuous pixel coordinates (pixel centres at +0.5) map as ``p_crop = scale·(p_photo − origin)``.

    Attributes:
        x0, y0: top-left corner of the window in photo pixels.
        scale: crop pixels per photo pixel.
        size: side of the crop in pixels.
    """

    x0: float
    y0: float
    scale: float
    size: int

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) photo pixel coordinates -> crop pixel coordinates."""
        return (np.asarray(points, np.float64) - [self.x0, self.y0]) * self.scale

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) crop pixel coordinates -> photo pixel coordinates."""
        return np.asarray(points, np.float64) / self.scale + [self.x0, self.y0]

    def warp(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 photo -> (size, size, 3) uint8 crop (edges replicated outside the photo)."""
        s = self.scale
        matrix = np.array([[s, 0.0, s * (0.5 - self.x0) - 0.5], [0.0, s, s * (0.5 - self.y0) - 0.5]])
        source = image
        if s < 0.5:  # anti-alias before a strong downscale
            sigma = 0.5 / s
            source = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma * 0.5)
        return cv2.warpAffine(source, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)


def crop_around(landmarks: np.ndarray, size: int, margin: float) -> Crop:
    """A square crop centred on the landmarks' bounding box, ``margin`` times its larger side.

    Args:
        landmarks: (68, 2) photo pixel coordinates.
        size: output side in pixels.
        margin: window side relative to the landmarks' extent (1.6 frames forehead and chin).
    """
    lo, hi = landmarks.min(0), landmarks.max(0)
    centre = (lo + hi) / 2.0
    side = max(float((hi - lo).max()) * margin, 8.0)
    return Crop(x0=float(centre[0] - side / 2), y0=float(centre[1] - side / 2), scale=size / side, size=size)
