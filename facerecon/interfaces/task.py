"""Interface of tasks: what ``facerecon run`` executes."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .base import ComponentBase

__all__ = ["Task", "RunContext", "RunSummary"]


@dataclass
class RunContext:
    """What a task gets to run.

    Attributes:
        recipe: the validated recipe (``facerecon.recipe.ValidatedRecipe``).
        build: builds a recipe slot or node: ``build("model")`` or ``build(node)``; None when the
            slot is empty.
        input: the ``--input`` value (file, folder or glob), or None.
        output: the output folder (exists).
        seed: random seed.
        debug: whether ``--debug`` was given.
        outputs: the output folder's item protocol (staging, claims, provenance), a
            :class:`facerecon.outputs.OutputFolder`; tasks writing one folder per item use it.
    """

    recipe: Any
    build: Callable[[Any], Any]
    input: str | None
    output: Path
    seed: int = 0
    debug: bool = False
    outputs: Any = None


@dataclass
class RunSummary:
    """What a task reports at the end.

    Attributes:
        rows: one dict per item with a result (``status`` ``ok``, ``suspect`` or ``resumed``,
            ``reason`` when suspect, seconds, final losses...).
        skipped: (item, reason) for inputs that produced no result (unreadable, no face, failed).
        seconds: total wall time.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


class Task(ComponentBase, ABC):
    """A job over inputs, e.g. fitting every face of every image."""

    @abstractmethod
    def run(self, context: RunContext) -> RunSummary:
        """Do the work; write results under ``context.output``."""
