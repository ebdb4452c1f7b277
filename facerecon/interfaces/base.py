"""What every component receives when it is built."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

__all__ = ["BuildContext", "ComponentBase"]


@dataclass
class BuildContext:
    """Passed to every component factory as ``factory(params, context)``.

    Attributes:
        device: torch device components should place their tensors on.
        cache_dir: folder for derived data worth keeping between runs.
        build: builds a nested component node (e.g. the losses of a stage): ``build(node)``.
        registry: the component registry (read-only use).
    """

    device: torch.device
    cache_dir: Path
    build: Callable[[Any], Any]
    registry: Any = None


class ComponentBase:
    """Convenience base: stores ``params`` and ``context`` and exposes ``device``."""

    def __init__(self, params: Any, context: BuildContext) -> None:
        self.params = params
        self.context = context

    @property
    def device(self) -> torch.device:
        """The device this component computes on."""
        return self.context.device
