"""Helpers shared by the built-in detectors: errors, parameter checks, box ordering."""
from __future__ import annotations

from facerecon.errors import FaceReconError
from facerecon.interfaces import FaceBox

__all__ = ["DetectorSetupError", "check_param", "best_first"]


class DetectorSetupError(FaceReconError):
    """A detector cannot be built: bad parameter, missing library or missing model file."""


def check_param(ok: bool, component: str, message: str) -> None:
    """Raise :class:`DetectorSetupError` naming ``component`` when ``ok`` is false."""
    if not ok:
        raise DetectorSetupError(f"{component}: {message}")


def best_first(boxes: list[FaceBox]) -> list[FaceBox]:
    """Boxes sorted by score, then area, highest first."""
    return sorted(boxes, key=lambda box: (box.score, box.area), reverse=True)
