"""Interface of datasets (input images)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator

from .base import ComponentBase
from .data import Sample

__all__ = ["Dataset"]


class Dataset(ComponentBase, ABC):
    """Yields input images; unreadable items come back as samples with ``error`` set."""

    @abstractmethod
    def __iter__(self) -> Iterator[Sample]:
        """Iterate over samples in a stable order."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of samples."""
