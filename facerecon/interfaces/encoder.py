"""Interface of image encoders."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from .base import ComponentBase

__all__ = ["Encoder"]


class Encoder(ComponentBase, ABC):
    """Maps face crops to latent vectors.

    Attributes:
        out_features: D, the latent size.
        input_size: side of the square crops the encoder expects.
    """

    out_features: int
    input_size: int

    @abstractmethod
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) float images in [0, 1] (sRGB) -> (B, D) latent."""

    @abstractmethod
    def module(self) -> torch.nn.Module:
        """The trainable torch module (for optimisers and checkpoints)."""
