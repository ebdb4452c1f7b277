"""UV layout and texel bookkeeping shared by the morphable models.

Texture coordinates follow :mod:`facerecon.interfaces.data`: u right, v up, both in [0, 1];
texel row 0 is the top of the map (v = 1); texel (row r, column c) has its centre at
``u = (c + 0.5) / T``, ``v = 1 - (r + 0.5) / T``.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt
from scipy.sparse import coo_matrix, csc_matrix, hstack
from scipy.sparse.linalg import spsolve
from scipy.spatial import cKDTree

__all__ = ["UV_MARGIN_TEXELS", "conformal_map", "layout_uvs", "texel_centres", "rasterize_uv", "mirror_texels"]

#: Empty border, in texels, around the layout so bilinear lookups never wrap or clamp into it.
UV_MARGIN_TEXELS = 2


def conformal_map(vertices: np.ndarray, faces: np.ndarray, pins: np.ndarray, targets: np.ndarray,
                  fit_height: bool = False) -> np.ndarray:
    """Least-squares conformal map (LSCM) of a triangle mesh into the plane.

    Minimises, over the piecewise-linear map (u, v), the area-weighted squared Cauchy-Riemann
    residual ``|grad v - rot90(grad u)|^2`` of every triangle in its own plane, with the
    ``pins`` held at ``targets``: triangles keep their shape (angles) as well as the surface
    and the pins allow, with no preferred direction, so a map baked on it has no stripes. Two
    pins leave the boundary free; a whole boundary loop of pins makes it the harmonic map
    inside that outline. The map keeps the orientation of the triangles (counter-clockwise seen
    from outside stays counter-clockwise).

    Args:
        vertices: (V, 3); faces: (F, 3) consistently oriented, one connected piece;
        pins: (P,) vertices of the triangles, P >= 2; targets: (P, 2) their positions.
        fit_height: the pins' second coordinate is ``scale * target + shift`` with the scale
            and shift that make the map most conformal (an outline whose aspect ratio is not
            known); the first coordinate stays as given.
    Returns:
        (V, 2) float64; vertices no triangle uses are NaN.
    """
    v = len(vertices)
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    e1, e2 = b - a, c - a
    normal = np.cross(e1, e2)
    double_area = np.linalg.norm(normal, axis=1)
    x_axis = e1 / np.linalg.norm(e1, axis=1, keepdims=True)
    y_axis = np.cross(normal / double_area[:, None], x_axis)
    local = np.stack([np.zeros((len(faces), 2)), np.stack([(e1 * x_axis).sum(1), np.zeros(len(faces))], 1),
                      np.stack([(e2 * x_axis).sum(1), (e2 * y_axis).sum(1)], 1)], axis=1)  # (F, 3, 2)
    opposite = np.roll(local, -2, axis=1) - np.roll(local, -1, axis=1)  # p[j+2] - p[j+1]
    grad = np.stack([-opposite[..., 1], opposite[..., 0]], -1) / double_area[:, None, None]  # (F, 3, 2)
    root = np.sqrt(double_area / 2.0)[:, None]
    rows = np.arange(2 * len(faces)).reshape(2, -1)
    # Row x: sum_j v_j g_jx + u_j g_jy; row y: sum_j v_j g_jy - u_j g_jx (times sqrt(area)).
    entries = [(rows[0], faces, grad[..., 1]), (rows[0], faces + v, grad[..., 0]),
               (rows[1], faces, -grad[..., 0]), (rows[1], faces + v, grad[..., 1])]
    system = coo_matrix((np.concatenate([(root * w).ravel() for _, _, w in entries]),
                         (np.concatenate([np.repeat(r, 3) for r, _, _ in entries]),
                          np.concatenate([f.ravel() for _, f, _ in entries]))), shape=(2 * len(faces), 2 * v)).tocsc()
    used = np.unique(faces)
    pinned = np.concatenate([pins, pins + v])
    free = np.setdiff1d(np.concatenate([used, used + v]), pinned)
    lhs = system[:, free]
    if fit_height:  # pinned v = scale * target + shift, both unknowns
        heights = system[:, pins + v]
        lhs = hstack([lhs, csc_matrix(heights @ targets[:, 1:]), csc_matrix(heights.sum(1))]).tocsc()
        rhs = -(system[:, pins] @ targets[:, 0])
    else:
        rhs = -(system[:, pinned] @ np.concatenate([targets[:, 0], targets[:, 1]]))
    solution = spsolve((lhs.T @ lhs).tocsc(), lhs.T @ rhs)
    flat = np.full(2 * v, np.nan)
    flat[free] = solution[: len(free)]
    scale, shift = (solution[len(free):] if fit_height else (1.0, 0.0))
    flat[pinned] = np.concatenate([targets[:, 0], scale * targets[:, 1] + shift])
    return flat.reshape(2, v).T


def layout_uvs(vertices: np.ndarray, faces: np.ndarray, outline: np.ndarray, outline_flat: np.ndarray,
               texture_size: int) -> np.ndarray:
    """Texture coordinates: the conformal map of the mesh inside its flattened outline, filling the map.

    The outer boundary loop is held at ``outline_flat``, a fold-free flattening of it with the
    symmetry plane at x = 0 (the unwrap of :mod:`plugins.models.surface`), its height scaled as
    suits the surface best (``fit_height`` of :func:`conformal_map`); inside, the map is
    conformal (:func:`conformal_map`), so it does not fold flaps such as the ears over the rest.
    One scale for both axes keeps it conformal: ``u = 0.5`` is the symmetry plane (a vertex's
    mirror image sits at ``1 - u``) and the larger extent fills the map up to a margin of
    :data:`UV_MARGIN_TEXELS`. Vertices no triangle uses take the coordinates of the nearest one
    that one does.

    Args:
        vertices: (V, 3) mean shape; faces: (F, 3) outward-oriented, one connected piece;
        outline: (K,) the outer boundary loop; outline_flat: (K, 2) its flattening;
        texture_size: T.
    Returns:
        (V, 2) float32 uvs in [0, 1].
    """
    flat = conformal_map(vertices, faces, outline, outline_flat, fit_height=True)
    used = ~np.isnan(flat[:, 0])
    margin = UV_MARGIN_TEXELS / texture_size
    half_width = np.abs(flat[used, 0]).max()
    low, high = flat[used, 1].min(), flat[used, 1].max()
    scale = min((0.5 - margin) / half_width, (1.0 - 2.0 * margin) / (high - low))
    uvs = np.stack([0.5 + scale * flat[:, 0], 0.5 + scale * (flat[:, 1] - (low + high) / 2.0)], axis=1)
    if not used.all():
        _, nearest = cKDTree(vertices[used]).query(vertices[~used])
        uvs[~used] = uvs[used][nearest]
    return np.clip(uvs, 0.0, 1.0).astype(np.float32)


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
