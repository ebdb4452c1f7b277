"""Interfaces of face and landmark detectors."""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .base import ComponentBase
from .data import FaceBox, Landmarks

__all__ = ["FaceDetector", "LandmarkDetector"]


class FaceDetector(ComponentBase, ABC):
    """Finds faces in a photo."""

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """(H, W, 3) uint8 RGB -> face boxes in pixels, best first (may be empty)."""


class LandmarkDetector(ComponentBase, ABC):
    """Finds the 68 iBUG landmarks of one face.

    Implement :meth:`detect`; detectors that know how sure they are of each point (a contour
    point hidden by a turned head, say) also override :meth:`locate`, which tasks call.
    """

    @abstractmethod
    def detect(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """(H, W, 3) uint8 RGB and a face box -> (68, 2) float pixel coordinates (x, y)."""

    def locate(self, image: np.ndarray, box: FaceBox) -> Landmarks:
        """(H, W, 3) uint8 RGB and a face box -> :class:`Landmarks` with a confidence per point.

        The default trusts every point of :meth:`detect` fully (confidence 1).
        """
        points = np.asarray(self.detect(image, box), dtype=np.float32)
        return Landmarks(points=points, confidence=np.ones(len(points), dtype=np.float32))
