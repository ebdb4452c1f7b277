"""Visibility pass of the rasterizer: which triangle each pixel centre sees (no gradients).

Fully vectorised, no per-triangle Python loop: every triangle's pixel bounding box is enumerated
with ``repeat_interleave`` (face triangles cover ~1 pixel, so this is ~2–4 candidates each), the
pixel centres inside it get their depth from screen-space barycentrics, and a z-buffer keeps the
nearest with ``scatter_reduce(amin)`` on int64 keys ``quantised_depth << 32 | triangle``. Large
triangles simply produce more candidates; candidates are processed in chunks of at most
``chunk_size`` so memory stays bounded whatever the triangle sizes.

Pixel (x, y) covers [x, x+1) × [y, y+1); its centre (x + 0.5, y + 0.5) is what is tested.
Triangles with a vertex at z ≤ ``near`` are dropped (no clipping).
"""
from __future__ import annotations

import torch

__all__ = ["rasterize_triangle_ids", "screen_barycentrics"]

_INSIDE_EPS = 1e-6  # barycentric tolerance: a centre on a shared edge belongs to both triangles


def screen_barycentrics(p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor, points: torch.Tensor):
    """Screen-space barycentrics (b0, b1, b2) of ``points`` in triangles (p0, p1, p2).

    Args:
        p0, p1, p2, points: (..., 2) pixel coordinates (broadcasting).
    Returns:
        b0, b1, b2 (...) and the signed doubled area (...) (0 for degenerate triangles; the
        barycentrics are then computed with area 1 and meaningless but finite).
    """
    e1, e2, d = p1 - p0, p2 - p0, points - p0
    area = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    safe = torch.where(area.abs() > 1e-12, area, torch.ones_like(area))
    b1 = (d[..., 0] * e2[..., 1] - d[..., 1] * e2[..., 0]) / safe
    b2 = (e1[..., 0] * d[..., 1] - e1[..., 1] * d[..., 0]) / safe
    return 1.0 - b1 - b2, b1, b2, area


@torch.no_grad()
def rasterize_triangle_ids(
    screen: torch.Tensor,
    depth: torch.Tensor,
    faces: torch.Tensor,
    height: int,
    width: int,
    keep: torch.Tensor | None = None,
    near: float = 1e-3,
    chunk_size: int = 1 << 21,
) -> torch.Tensor:
    """Nearest triangle per pixel centre.

    Args:
        screen: (B, V, 2) projected vertices in pixels (x right, y down).
        depth: (B, V) camera-frame z of the vertices.
        faces: (F, 3) long.
        keep: optional (B, F) bool; triangles set to False are skipped (back-face culling).
        near: triangles with a vertex at z ≤ near are skipped.
        chunk_size: most (triangle, pixel) candidates processed at once.
    Returns:
        (B, height·width) long triangle index per pixel (row-major), −1 where empty.
    """
    batch, device = screen.shape[0], screen.device
    n_faces = faces.shape[0]
    flat_faces = faces.reshape(-1)
    corners = screen.index_select(1, flat_faces).view(batch, n_faces, 3, 2)
    corner_z = depth.index_select(1, flat_faces).view(batch, n_faces, 3)
    inv_z = 1.0 / corner_z.clamp(min=near)
    x, y = corners[..., 0], corners[..., 1]
    x0 = torch.ceil(x.amin(-1) - 0.5).clamp(min=0)
    x1 = torch.floor(x.amax(-1) - 0.5).clamp(max=width - 1)
    y0 = torch.ceil(y.amin(-1) - 0.5).clamp(min=0)
    y1 = torch.floor(y.amax(-1) - 0.5).clamp(max=height - 1)
    box_w = (x1 - x0 + 1).clamp(min=0)
    box_h = (y1 - y0 + 1).clamp(min=0)
    e1 = corners[:, :, 1] - corners[:, :, 0]
    e2 = corners[:, :, 2] - corners[:, :, 0]
    area = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    ok = (corner_z > near).all(-1) & (area.abs() > 1e-10) & torch.isfinite(area)
    if keep is not None:
        ok &= keep
    counts = torch.where(ok, box_w * box_h, torch.zeros_like(box_w)).long().flatten()

    # Per triangle: origin vertex, barycentric gradients of b1 and b2, 1/z at the corners.
    safe_area = torch.where(ok, area, torch.ones_like(area))
    table = torch.stack(
        [
            corners[:, :, 0, 0], corners[:, :, 0, 1],
            e2[..., 1] / safe_area, -e2[..., 0] / safe_area,  # b1 = (dx·e2y − dy·e2x)/area
            -e1[..., 1] / safe_area, e1[..., 0] / safe_area,  # b2 = (dy·e1x − dx·e1y)/area
            inv_z[..., 0], inv_z[..., 1], inv_z[..., 2],
        ],
        dim=-1,
    ).reshape(batch * n_faces, 9)
    box = torch.stack([x0, y0, box_w], dim=-1).long().reshape(batch * n_faces, 3)

    buffer = torch.full((batch * height * width,), torch.iinfo(torch.int64).max, dtype=torch.long, device=device)
    tris = counts.nonzero().squeeze(1)
    if tris.numel() == 0:
        return torch.full((batch, height * width), -1, dtype=torch.long, device=device)
    tri_counts = counts[tris]
    ends = tri_counts.cumsum(0)
    iz_lo, iz_hi = inv_z[ok].min(), inv_z[ok].max()
    iz_scale = float(2**31 - 2) / float((iz_hi - iz_lo).clamp(min=1e-12))

    # Split the triangle list into chunks of at most chunk_size candidates (one triangle may exceed it).
    bounds = [0]
    while bounds[-1] < tris.numel():
        start_count = int(ends[bounds[-1] - 1]) if bounds[-1] > 0 else 0
        stop = int(torch.searchsorted(ends, start_count + chunk_size, right=True))
        bounds.append(max(stop, bounds[-1] + 1))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        sel = tris[lo:hi]
        sel_counts = tri_counts[lo:hi]
        n_cand = int(ends[hi - 1]) - (int(ends[lo - 1]) if lo > 0 else 0)
        which = torch.repeat_interleave(torch.arange(hi - lo, device=device), sel_counts, output_size=n_cand)
        starts = ends[lo:hi] - sel_counts - (ends[lo - 1] if lo > 0 else 0)
        local = torch.arange(n_cand, device=device) - starts.index_select(0, which)
        tri = sel.index_select(0, which)
        bx = box.index_select(0, tri)
        px = bx[:, 0] + local % bx[:, 2]
        py = bx[:, 1] + torch.div(local, bx[:, 2], rounding_mode="floor")
        coef = table.index_select(0, tri)
        dx = px.to(coef.dtype) + 0.5 - coef[:, 0]
        dy = py.to(coef.dtype) + 0.5 - coef[:, 1]
        b1 = coef[:, 2] * dx + coef[:, 3] * dy
        b2 = coef[:, 4] * dx + coef[:, 5] * dy
        b0 = 1.0 - b1 - b2
        inside = (b0 >= -_INSIDE_EPS) & (b1 >= -_INSIDE_EPS) & (b2 >= -_INSIDE_EPS)
        idx = inside.nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        tri, px, py, coef = (t.index_select(0, idx) for t in (tri, px, py, coef))
        b0, b1, b2 = (t.index_select(0, idx) for t in (b0, b1, b2))
        iz = b0 * coef[:, 6] + b1 * coef[:, 7] + b2 * coef[:, 8]
        q = ((iz_hi - iz).double() * iz_scale).clamp(0, 2**31 - 2).long()
        b = torch.div(tri, n_faces, rounding_mode="floor")
        key = (q << 32) | (tri - b * n_faces)
        pixel = (b * height + py) * width + px
        buffer.scatter_reduce_(0, pixel, key, reduce="amin")
    empty = buffer == torch.iinfo(torch.int64).max
    ids = buffer & 0xFFFFFFFF
    return torch.where(empty, torch.full_like(ids, -1), ids).view(batch, height * width)
