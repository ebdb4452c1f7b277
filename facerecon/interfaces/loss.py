"""Interface of loss terms."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch

from .base import ComponentBase
from .data import RenderOutput, Textures

__all__ = ["Loss", "LossInputs"]


@dataclass
class LossInputs:
    """Everything a loss may look at during one optimisation or training step.

    Attributes:
        target: (B, H, W, 3) linear input image.
        render: the renderer's output, or None in landmark-only stages.
        region: (B, H, W) float mask of the pixels to compare (face region), or None.
        landmarks_target: (B, 68, 2) detected landmarks in pixels, or None.
        landmarks_pred: (B, 68, 2) projected model landmarks in pixels, or None.
        landmarks_confidence: (B, 68) confidence in [0, 1] of each detected landmark (0 for a
            point the detector saw as hidden), or None when every point is trusted.
        coefficients: named (B, K) coefficient tensors in units of std devs
            (``identity``, ``expression``, ``albedo``) and ``light`` (B, K, 3).
        textures: the current reflectance maps, or None.
        base_textures: the statistical maps the per-texel maps started from, or None.
        model: the morphable model (symmetry, masks), or None.
        extras: anything else a plugin pair agrees on; ``truth``: ground-truth physical values by
            group, (B, ...) each, when the faces have them (synthetic training faces).
    """

    target: torch.Tensor | None = None
    render: RenderOutput | None = None
    region: torch.Tensor | None = None
    landmarks_target: torch.Tensor | None = None
    landmarks_pred: torch.Tensor | None = None
    landmarks_confidence: torch.Tensor | None = None
    coefficients: dict[str, torch.Tensor] = field(default_factory=dict)
    textures: Textures | None = None
    base_textures: Textures | None = None
    model: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


class Loss(ComponentBase, ABC):
    """One objective term, evaluated per face. Its ``weight`` parameter is applied by the caller.

    A loss returns one unweighted value per face, shape (B,): the task weights the terms, sums
    them per face and reduces over the batch itself, so one face never changes another face's
    objective (and a diverging face can be dropped without disturbing the rest). A face's value
    must not depend on the other items of the batch.

    Params dataclasses of losses must have a ``weight: float`` field.

    Attributes:
        needs_render: whether the loss reads ``inputs.render``; a stage renders only when one of
            its losses does.
    """

    needs_render: bool = False

    @property
    def weight(self) -> float:
        """The weight from the recipe."""
        return float(self.params.weight)

    @abstractmethod
    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """The unweighted loss of each face, (B,)."""
