"""Building the renderer's Mitsuba 3 objects in facerecon's conventions (OpenCV camera frame =
Mitsuba world; the camera itself is :func:`facerecon.mitsuba.sensor_dict`).

Light. Mitsuba's ``envmap`` reads a lat-long map whose local direction is
d = (sin φ sin θ, cos θ, −cos φ sin θ), θ = π·row/(H − 1) (rows at the poles) and
φ = 2π·(col + 0.5)/W, interpolated bilinearly. With the same ``to_world`` diag(−1, −1, 1), row 0
looks up (−y) and the centre column along +z as in :meth:`Lighting.environment_map`; each texel
holds ``lighting.radiance`` evaluated at *its own* world direction (:func:`envmap_directions`),
so the light the path tracer sees is the lighting's own, up to bilinear interpolation.

Textures. Mitsuba's bitmap row 0 lies at v = 0, ours at v = 1: texture coordinates are given to
Mitsuba as (u, 1 − v) and turned back for the uv output. Lookups are bilinear with clamped borders
at texel centres, as the rasterizer's ``grid_sample(align_corners=False, padding_mode="border")``.
"""
from __future__ import annotations

import math

import torch

from facerecon.mitsuba import TO_WORLD

__all__ = ["envmap_directions", "integrator_dict", "bitmap_dict"]


def envmap_directions(height: int, width: int, device, dtype=torch.float32) -> torch.Tensor:
    """World (camera-frame) directions (height, width, 3) of the texels of Mitsuba's ``envmap``."""
    theta = torch.arange(height, device=device, dtype=torch.float64) * (math.pi / (height - 1))
    phi = (torch.arange(width, device=device, dtype=torch.float64) + 0.5) * (2.0 * math.pi / width)
    theta, phi = torch.meshgrid(theta, phi, indexing="ij")
    local = torch.stack([phi.sin() * theta.sin(), theta.cos(), -phi.cos() * theta.sin()], dim=-1)
    return (local * local.new_tensor([-1.0, -1.0, 1.0])).to(dtype)


def integrator_dict(kind: str, bounces: int) -> dict:
    """The integrator: ``max_depth`` counts the camera segment, so direct light is max_depth 2."""
    return {"type": kind, "max_depth": bounces + 1, "rr_depth": bounces + 2, "hide_emitters": True}


def bitmap_dict(mi, data) -> dict:
    """A raw (linear) bilinear, border-clamped bitmap texture from an (H, W, C) tensor."""
    return {"type": "bitmap", "data": mi.TensorXf(data), "raw": True, "filter_type": "bilinear", "wrap_mode": "clamp"}
