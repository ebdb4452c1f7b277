"""The ``upconv`` texture decoder: latent -> feature grid -> upsampling convolutions -> UV map."""
from __future__ import annotations

import math

import torch
from torch import nn

from facerecon.interfaces import TextureDecoder

__all__ = ["UpconvDecoder", "UpconvNetwork"]


class UpconvNetwork(nn.Module):
    """(B, D) -> (B, size, size, channels): a linear map of rank ``project_rank`` to a
    ``start``×``start`` grid, then blocks of (upsample ×2, conv 3×3, norm, SiLU) up to 1/``shuffle``
    of ``size`` and a zero-initialised ``head_kernel``² convolution to shuffle²·``channels``
    rearranged into the last ``shuffle``× enlargement (pixel shuffle: the largest grids, the
    costliest, get no convolution of their own); resized when ``size`` is not ``start``·2^k. The
    output starts at 0."""

    def __init__(self, in_features: int, size: int, channels: int, params) -> None:
        super().__init__()
        self.size, self.start, self.shuffle = size, params.start_size, params.shuffle
        blocks = max(0, math.ceil(math.log2(max(size, 1) / self.start)) - int(math.log2(self.shuffle)))
        width = params.channels
        self.width = width
        grid = width * self.start * self.start
        rank = params.project_rank
        self.project = (nn.Sequential(nn.Linear(in_features, rank, bias=False), nn.Linear(rank, grid))
                        if 0 < rank < min(in_features, grid) else nn.Linear(in_features, grid))
        layers: list[nn.Module] = []
        for _ in range(blocks):
            out = max(params.min_channels, width // 2)
            layers += [nn.Upsample(scale_factor=2, mode=params.upsample), nn.Conv2d(width, out, 3, padding=1),
                       _norm(params.norm, out), nn.SiLU()]
            width = out
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, self.shuffle ** 2 * channels, params.head_kernel, padding=params.head_kernel // 2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, D) latent -> (B, size, size, channels) map."""
        grid = self.project(latent).view(latent.shape[0], self.width, self.start, self.start)
        grid = grid.contiguous(memory_format=torch.channels_last)  # as the blocks' weights (their norms run 2x faster)
        maps = nn.functional.pixel_shuffle(self.head(self.blocks(nn.functional.silu(grid))), self.shuffle)
        if maps.shape[-1] != self.size:
            maps = nn.functional.interpolate(maps, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return maps.permute(0, 2, 3, 1)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "group":
        return nn.GroupNorm(math.gcd(8, channels), channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


class UpconvDecoder(TextureDecoder):
    """Builds :class:`UpconvNetwork` s (see :class:`plugins.decoders.UpconvParams`)."""

    def network(self, in_features: int, size: int, channels: int) -> nn.Module:
        """A new :class:`UpconvNetwork` on the decoder's device."""
        return UpconvNetwork(in_features, size, channels, self.params).to(self.device)
