"""Implementations of the test plugin's components (imported only when built)."""
from __future__ import annotations

from abc import abstractmethod

import pytest
import torch

from facerecon.interfaces import ComponentBase, Loss, Renderer, RunSummary, Task
from facerecon.testing import ComponentContract

__all__ = ["Job", "Widget", "Term", "Tracker", "TrackerContract", "Kalman", "Track"]


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


class Tracker(ComponentBase):
    """Interface of the ``tracker`` kind the test plugin adds: smooths a position over frames."""

    @abstractmethod
    def step(self, previous: float, measured: float) -> float:
        """The tracked position after one frame."""


class TrackerContract(ComponentContract):
    """Contract suite of the ``tracker`` kind: a measurement equal to the estimate stays put."""

    kind = "tracker"

    def test_fixed_point(self, component):
        assert component.step(2.0, 2.0) == pytest.approx(2.0)


class Kalman(Tracker):
    """previous + gain · (measured - previous)."""

    def step(self, previous: float, measured: float) -> float:
        return previous + self.params.gain * (measured - previous)


class Track(Task):
    """Tracks a position moving by 1 per frame with the recipe's tracker; writes track.txt."""

    def run(self, context):
        tracker = context.build("tracker")
        position = 0.0
        for frame in range(1, self.params.frames + 1):
            position = tracker.step(position, float(frame))
        (context.output / "track.txt").write_text(f"{position:.4f}")
        return RunSummary(rows=[{"name": "track", "position": position, "tracker": type(tracker).__name__}])
