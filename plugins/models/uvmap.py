"""UV layout and texel bookkeeping shared by the morphable models.

Texture coordinates follow :mod:`facerecon.interfaces.data`: u right, v up, both in [0, 1];
texel row 0 is the top of the map (v = 1); texel (row r, column c) has its centre at
``u = (c + 0.5) / T``, ``v = 1 - (r + 0.5) / T``.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt

__all__ = ["UV_MARGIN_TEXELS", "layout_uvs", "texel_centres", "rasterize_uv", "mirror_texels"]

#: Empty border, in texels, around the layout so bilinear lookups never wrap or clamp into it.
UV_MARGIN_TEXELS = 2


def layout_uvs(flat: np.ndarray, used: np.ndarray, texture_size: int) -> np.ndarray:
    """Texture coordinates from the unwrap, filling the map and mirror-symmetric in u.

    The longitude is scaled by its largest magnitude, so ``u = 0.5`` is the symmetry plane and a
    vertex's mirror image sits at ``1 - u``; the Mercator height is scaled to the map's height.
    Both axes keep a margin of :data:`UV_MARGIN_TEXELS`.

    Args:
        flat: (V, 2) unwrap coordinates (:func:`plugins.models.surface.unwrap`).
        used: (V,) bool, the vertices that set the extent (those of the triangles).
        texture_size: T.
    Returns:
        (V, 2) float32 uvs in [0, 1] (vertices outside the extent are clipped).
    """
    margin = UV_MARGIN_TEXELS / texture_size
    span = 1.0 - 2.0 * margin
    half_width = np.abs(flat[used, 0]).max()
    low, high = flat[used, 1].min(), flat[used, 1].max()
    u = 0.5 + flat[:, 0] / (2.0 * half_width) * span
    v = margin + (flat[:, 1] - low) / (high - low) * span
    return np.clip(np.stack([u, v], axis=1), 0.0, 1.0).astype(np.float32)


def texel_centres(texture_size: int) -> np.ndarray:
    """(T*T, 2) uv of every texel centre, row-major from the top row."""
    t = texture_size
    rows, cols = np.divmod(np.arange(t * t), t)
    return np.stack([(cols + 0.5) / t, 1.0 - (rows + 0.5) / t], axis=1)


def rasterize_uv(uvs: np.ndarray, faces: np.ndarray, texture_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which triangle covers each texel centre, with barycentric weights.

    Texels no triangle covers take the triangle and weights of the nearest covered texel, so
    maps baked from per-vertex values have no empty seams under bilinear filtering.

    Args:
        uvs: (V, 2); faces: (F, 3); texture_size: T.
    Returns:
        ``(vertices, weights, covered)``: (T*T, 3) int64 vertex indices, (T*T, 3) float32
        barycentric weights (a texel's value is ``sum_k weights[k] * value[vertices[k]]``) and
        (T*T,) bool, True for texels inside a triangle.
    """
    t = texture_size
    pixel = np.stack([uvs[:, 0] * t - 0.5, (1.0 - uvs[:, 1]) * t - 0.5], axis=1)  # texel-centre units
    corners = pixel[faces]  # (F, 3, 2)
    triangle = np.full(t * t, -1, dtype=np.int64)
    weights = np.zeros((t * t, 3), dtype=np.float64)
    low = np.floor(corners.min(1)).astype(np.int64)
    size = (np.ceil(corners.max(1)).astype(np.int64) - low).max(1)
    for step in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024):
        group = np.flatnonzero((size <= step) & (size > step // 2))
        if len(group) == 0:
            continue
        dy, dx = np.divmod(np.arange((step + 1) ** 2), step + 1)
        x = low[group, 0, None] + dx  # (G, S) candidate texel columns
        y = low[group, 1, None] + dy
        a, b, c = (corners[group, i, None, :] for i in range(3))
        area = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (c[..., 0] - a[..., 0]) * (b[..., 1] - a[..., 1])
        area = np.where(np.abs(area) < 1e-12, 1e-12, area)
        w1 = ((x - a[..., 0]) * (c[..., 1] - a[..., 1]) - (c[..., 0] - a[..., 0]) * (y - a[..., 1])) / area
        w2 = ((b[..., 0] - a[..., 0]) * (y - a[..., 1]) - (x - a[..., 0]) * (b[..., 1] - a[..., 1])) / area
        w0 = 1.0 - w1 - w2
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (x >= 0) & (x < t) & (y >= 0) & (y < t)
        which, slot = np.nonzero(inside)
        texel = y[which, slot] * t + x[which, slot]
        triangle[texel] = group[which]
        weights[texel] = np.stack([w0[which, slot], w1[which, slot], w2[which, slot]], axis=1)
    covered = triangle >= 0
    if not covered.any():
        raise ValueError("no triangle covers any texel centre: the uvs are degenerate")
    _, (near_row, near_col) = distance_transform_edt(~covered.reshape(t, t), return_indices=True)
    nearest = (near_row * t + near_col).ravel()
    return faces[triangle[nearest]], weights[nearest].astype(np.float32), covered


def mirror_texels(texture_size: int) -> np.ndarray:
    """(T*T,) int64 flat index of each texel's mirror image (column c <-> T - 1 - c)."""
    t = texture_size
    rows, cols = np.divmod(np.arange(t * t), t)
    return (rows * t + (t - 1 - cols)).astype(np.int64)
