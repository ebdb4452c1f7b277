"""Interfaces of face and landmark detectors."""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .base import ComponentBase
from .data import FaceBox

__all__ = ["FaceDetector", "LandmarkDetector"]


class FaceDetector(ComponentBase, ABC):
    """Finds faces in a photo."""

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """(H, W, 3) uint8 RGB -> face boxes in pixels, best first (may be empty)."""


class LandmarkDetector(ComponentBase, ABC):
    """Finds the 68 iBUG landmarks of one face."""

    @abstractmethod
    def detect(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """(H, W, 3) uint8 RGB and a face box -> (68, 2) float pixel coordinates (x, y)."""
