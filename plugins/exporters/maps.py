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

__all__ = ["encode", "save_map"]


def encode(linear: np.ndarray, srgb: bool = True) -> np.ndarray:
    """Linear float image (H, W, C) -> uint8 (H, W, C), clipped to [0, 1], sRGB-encoded when ``srgb``."""
    values = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return to_uint8(linear_to_srgb(values) if srgb else values)


def save_map(path: str | os.PathLike, linear: np.ndarray, srgb: bool = True) -> None:
    """Save a linear map (T, T, C) as an 8-bit PNG (sRGB-encoded for colour maps), atomically."""
    write_image(path, encode(linear, srgb))
