"""Interface of exporters."""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from .base import ComponentBase
from .data import FaceResult

__all__ = ["Exporter"]


class Exporter(ComponentBase, ABC):
    """Writes a :class:`FaceResult` into a folder. Files are written atomically
    (see :func:`facerecon.io.atomic_write`)."""

    @abstractmethod
    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write files for ``result`` into ``folder`` (which exists); return the paths written."""
