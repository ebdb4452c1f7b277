"""Recipe errors: every offender collected and reported at once."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import FaceReconError

__all__ = ["Issue", "RecipeError"]


@dataclass(frozen=True)
class Issue:
    """One problem in a recipe.

    Attributes:
        where: ``file:line`` (or ``--set``) of the offending key or value.
        path: dotted key path (``stages.fit.losses.photo.weight``); empty when the issue is about
            the whole file (unreadable, invalid YAML).
        message: what is wrong and what would be right.
    """

    where: str
    path: str
    message: str

    def __str__(self) -> str:
        if not self.path:  # about the whole file (unreadable, invalid YAML)
            return f"{self.where}: {self.message}"
        return f"{self.where}: {self.path}: {self.message}"


class RecipeError(FaceReconError):
    """A recipe failed to load or validate; ``issues`` lists every offender."""

    exit_code = 2

    #: Most issues the message lists (``issues`` keeps them all).
    shown = 50

    def __init__(self, source: str, issues: list[Issue]) -> None:
        self.source = source
        self.issues = issues
        count = f"{len(issues)} error{'s' if len(issues) != 1 else ''}"
        lines = [f"Recipe {source} has {count}:"] + [f"  {issue}" for issue in issues[:self.shown]]
        if len(issues) > self.shown:
            lines.append(f"  ... and {len(issues) - self.shown} more")
        super().__init__("\n".join(lines))
