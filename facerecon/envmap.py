"""Latitude-longitude environment maps in the camera frame (OpenCV: x right, y down, +z forward).

Mapping (the same for writing and reading a map of size H×W):

- θ ∈ [0, π] is the angle from "up" (−y); row ``i`` holds θ = π·(i + 0.5)/H, so row 0 looks
  straight up and the last row straight down (+y).
- φ ∈ [−π, π) is the azimuth around the vertical axis, measured from +z towards +x; column ``j``
  holds φ = 2π·(j + 0.5)/W − π, so the centre of the map (x = W/2) looks along +z (where the
  camera looks), columns to the right of it turn towards +x, and the left/right borders look
  back at the camera (−z).
- direction d(θ, φ) = (sin θ · sin φ, −cos θ, sin θ · cos φ).

Rows are θ and columns are φ: the axes are not swapped (NextFace's bug; docs/architecture.md, Conventions).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["latlong_directions", "latlong_angles", "sample_latlong"]


def latlong_directions(
    height: int, width: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Unit directions of the texel centres of a lat-long map.

    Returns:
        (height, width, 3) camera-frame directions.
    """
    theta = (torch.arange(height, device=device, dtype=dtype) + 0.5) * (math.pi / height)
    phi = (torch.arange(width, device=device, dtype=dtype) + 0.5) * (2.0 * math.pi / width) - math.pi
    theta, phi = torch.meshgrid(theta, phi, indexing="ij")
    return torch.stack([theta.sin() * phi.sin(), -theta.cos(), theta.sin() * phi.cos()], dim=-1)


def latlong_angles(directions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(θ, φ) of unit directions (..., 3): θ from up (−y) in [0, π], φ = atan2(x, z) in (−π, π]."""
    x, y, z = directions.unbind(-1)
    theta = torch.acos((-y).clamp(-1.0, 1.0))
    return theta, torch.atan2(x, z)


def sample_latlong(envmap: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup of a lat-long map, wrapping around in φ.

    Args:
        envmap: (B, H, W, C) map laid out as in this module's docstring.
        directions: (B, N, 3) unit camera-frame directions.
    Returns:
        (B, N, C) values.
    """
    _, height, width, _ = envmap.shape
    theta, phi = latlong_angles(directions)
    image = envmap.permute(0, 3, 1, 2)
    image = torch.cat([image[..., -1:], image, image[..., :1]], dim=-1)  # one wrapped column each side
    u = (phi + math.pi) / (2.0 * math.pi) * width + 1.0  # continuous column in the padded map
    v = theta / math.pi * height
    grid = torch.stack([2.0 * u / (width + 2) - 1.0, 2.0 * v / height - 1.0], dim=-1)
    out = F.grid_sample(image, grid[:, None], mode="bilinear", padding_mode="border", align_corners=False)
    return out[:, :, 0].transpose(1, 2)
