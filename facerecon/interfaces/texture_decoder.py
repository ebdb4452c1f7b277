"""Interface of texture decoders: latent vectors to per-texel maps (DeepNextFace's albedo decoders)."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from .base import ComponentBase

__all__ = ["TextureDecoder"]


class TextureDecoder(ComponentBase, ABC):
    """Builds networks that turn a latent vector into a square UV map.

    A network task builds one network per map it predicts (diffuse, specular, roughness), each
    sized from the morphable model's texture size, and trains them with the rest of the network.
    """

    @abstractmethod
    def network(self, in_features: int, size: int, channels: int) -> torch.nn.Module:
        """A trainable module mapping (B, in_features) latents to (B, size, size, channels) maps
        (channel-last, on ``self.device``) whose outputs start near zero, so that an untrained
        decoder leaves the statistical maps it is added to unchanged."""
