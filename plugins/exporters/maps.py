"""Saving linear images and texture maps as 8-bit PNG, shared by every exporter.

Colour data (albedo maps, renders) is stored sRGB-encoded, as image viewers and 3D tools expect
for colour textures; non-colour data (roughness) is stored linearly. PNG row 0 is the top of the
map, i.e. v = 1 (see :mod:`facerecon.interfaces.data`). Encoding and atomic writing come from
:mod:`facerecon.imaging`.
"""
from __future__ import annotations

import os

import numpy as np

from facerecon.imaging import linear_to_srgb, to_uint8, write_image

__all__ = ["encode", "save_map", "sample_map"]


def encode(linear: np.ndarray, srgb: bool = True) -> np.ndarray:
    """Linear float image (H, W, C) -> uint8 (H, W, C), clipped to [0, 1], sRGB-encoded when ``srgb``."""
    values = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return to_uint8(linear_to_srgb(values) if srgb else values)


def save_map(path: str | os.PathLike, linear: np.ndarray, srgb: bool = True) -> None:
    """Save a linear map (T, T, C) as an 8-bit PNG (sRGB-encoded for colour maps), atomically."""
    write_image(path, encode(linear, srgb))


def sample_map(texture: np.ndarray, uvs: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a map at texture coordinates (u right, v up, row 0 = top = v 1).

    Texel centres sit at ((i + 0.5) / T); lookups beyond the border clamp to the edge texels.

    Args:
        texture: (T, T, C) map.
        uvs: (N, 2) texture coordinates.
    Returns:
        (N, C) float32 values.
    """
    height, width = texture.shape[:2]
    x = np.clip(uvs[:, 0] * width - 0.5, 0.0, width - 1.0)
    y = np.clip((1.0 - uvs[:, 1]) * height - 0.5, 0.0, height - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), max(width - 2, 0))
    y0 = np.minimum(np.floor(y).astype(np.int64), max(height - 2, 0))
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    tex = texture.astype(np.float32)
    top = tex[y0, x0] * (1 - fx) + tex[y0, x1] * fx
    bottom = tex[y1, x0] * (1 - fx) + tex[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)
