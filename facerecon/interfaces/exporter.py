"""Interface of exporters."""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from .base import ComponentBase
from .data import FaceResult

__all__ = ["Exporter"]


class Exporter(ComponentBase, ABC):
    """Writes a :class:`FaceResult` into a folder. Files are written atomically
    (see :func:`facerecon.io.atomic_write`)."""

    #: Whether the files show the reflectance maps (texture images, renders, vertex colours). When no
    #: exporter of a recipe does, a task may skip decoding per-texel detail (the ``reconstruct``
    #: task's texture decoders): the result then carries the model's statistical maps.
    writes_maps: ClassVar[bool] = True

    @abstractmethod
    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write files for ``result`` into ``folder`` (which exists); return the paths written."""
