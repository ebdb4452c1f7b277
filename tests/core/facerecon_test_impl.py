"""Implementations of the test plugin's components (imported only when built)."""
from __future__ import annotations

import torch

from facerecon.interfaces import Loss, Renderer, RunSummary, Task

__all__ = ["Job", "Widget", "Term"]


class Job(Task):
    """Writes ``done.txt`` naming every stage, or raises when ``fail`` is set."""

    def run(self, context):
        if self.params.fail:
            raise RuntimeError("the job broke")
        stages = list(context.recipe.root.stages)
        (context.output / "done.txt").write_text(" ".join(stages))
        return RunSummary(rows=[{"name": "job", "stages": len(stages), "renderer": type(context.build("renderer")).__name__}])


class Widget(Renderer):
    """A renderer that is never asked to render in these tests."""

    def render(self, scene):
        raise NotImplementedError


class Term(Loss):
    """Mean of |landmarks_pred| ** power, per face."""

    def __call__(self, inputs):
        return inputs.landmarks_pred.abs().pow(self.params.power).flatten(1).mean(1)
