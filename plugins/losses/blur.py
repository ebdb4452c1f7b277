"""Separable Gaussian blur of channel-last images."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["gaussian_kernel", "gaussian_blur"]


def gaussian_kernel(sigma: float, size: int = 0, device: torch.device | str = "cpu") -> torch.Tensor:
    """Normalised 1-D Gaussian kernel.

    Args:
        sigma: standard deviation in pixels, > 0.
        size: odd kernel length; 0 picks 2·ceil(3σ) + 1.
    Returns:
        (size,) float32 weights summing to 1.
    """
    if sigma <= 0:
        raise ValueError(f"Gaussian blur sigma must be > 0, got {sigma}.")
    size = size or 2 * math.ceil(3 * sigma) + 1
    if size < 1 or size % 2 == 0:
        raise ValueError(f"Gaussian blur size must be odd and positive, got {size}.")
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Blur each channel with the separable kernel, replicating border pixels.

    Args:
        image: (B, H, W, C).
        kernel: (K,) normalised weights, K odd.
    Returns:
        (B, H, W, C); a constant image stays constant.
    """
    channels = image.shape[-1]
    radius = kernel.shape[0] // 2
    k = kernel.to(image)
    x = image.permute(0, 3, 1, 2)
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    x = F.conv2d(x, k.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return x.permute(0, 2, 3, 1)
