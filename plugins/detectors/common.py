"""Helpers shared by the built-in detectors: errors, box ordering."""
from __future__ import annotations

from facerecon.errors import FaceReconError
from facerecon.interfaces import FaceBox

__all__ = ["DetectorSetupError", "best_first"]


class DetectorSetupError(FaceReconError):
    """A detector cannot be built: missing library or missing model file."""


def best_first(boxes: list[FaceBox]) -> list[FaceBox]:
    """Boxes sorted by score, then area, highest first."""
    return sorted(boxes, key=lambda box: (box.score, box.area), reverse=True)
