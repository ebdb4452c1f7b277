"""Analytic silhouette antialiasing of the rasterizer (in the spirit of nvdiffrast's ``antialias``).

Only silhouettes against the background are treated. The outline of the mesh is made of its
*contour edges*: mesh-boundary edges and edges between a triangle facing the camera and one facing
away. Each projected contour edge is walked across the pixel grid, one crossing per pixel row
(edges closer to vertical) or column (closer to horizontal): where it crosses the segment between
two neighbouring pixel centres of which exactly one is covered, the crossing lies at s ∈ [0, 1]
from the covered centre, and the pixel on the side of the crossing is blended:

    s ≥ ½: background pixel  += (s − ½)·(colour_covered − background)   (coverage spills over)
    s < ½: covered pixel     += (s − ½)·(colour_covered − background)   (coverage falls short)

and the same for the mask (colour 1, background 0); for an axis-aligned edge this is the exact
pixel coverage. When several contour edges cross the same pair, the one nearest the covered
centre is used. s is a differentiable function of the contour edge's projected end points, so the
image and the mask get gradients that move the outline (vertices, pose, focal). Occlusion
boundaries inside the mesh (a nose over a cheek) are not blended and give no such gradient.
"""
from __future__ import annotations

import torch

__all__ = ["mesh_edges", "antialias"]


def mesh_edges(faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique edges of a triangle mesh and the (up to) two triangles sharing each.

    Args:
        faces: (F, 3) long.
    Returns:
        edges (E, 2) vertex indices and their faces (E, 2), the second −1 on a mesh boundary.
        Non-manifold edges keep two of their triangles.
    """
    ends = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], dim=0)
    owner = torch.arange(faces.shape[0], device=faces.device).repeat(3)
    lo, hi = ends.min(1).values, ends.max(1).values
    key, order = (lo * (int(faces.max()) + 1) + hi).sort(stable=True)
    first = torch.ones_like(key, dtype=torch.bool)
    first[1:] = key[1:] != key[:-1]
    starts = first.nonzero().squeeze(1)
    has_second = torch.zeros_like(starts, dtype=torch.bool)
    has_second[:-1] = ~first[starts[:-1] + 1]
    has_second[-1] = starts[-1] + 1 < key.numel()
    edge_faces = torch.full((starts.numel(), 2), -1, dtype=torch.long, device=faces.device)
    edge_faces[:, 0] = owner[order[starts]]
    second = starts[has_second] + 1
    edge_faces[has_second, 1] = owner[order[second]]
    edges = torch.stack([lo[order[starts]], hi[order[starts]]], dim=1)
    return edges, edge_faces


def antialias(
    image: torch.Tensor,
    mask: torch.Tensor,
    screen: torch.Tensor,
    edges: torch.Tensor,
    edge_faces: torch.Tensor,
    front: torch.Tensor,
    background: torch.Tensor,
    visible: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend silhouette pixels (module docstring).

    Args:
        image: (B, H, W, C) shaded image, background already filled in.
        mask: (B, H, W) hard coverage (float, 0/1).
        screen: (B, V, 2) projected vertices (differentiable).
        edges, edge_faces: from :func:`mesh_edges`.
        front: (B, F) bool, whether each triangle faces the camera.
        background: (C,) background colour.
        visible: (B, F) bool, triangles that may be drawn (culling); default all.
    Returns:
        The blended image (B, H, W, C) and soft mask (B, H, W) in [0, 1].
    """
    batch, height, width, channels = image.shape
    covered = mask > 0.5
    with torch.no_grad():
        f0, f1 = edge_faces[:, 0], edge_faces[:, 1]
        front0, front1 = front[:, f0], front[:, f1.clamp(min=0)]
        boundary = (f1 < 0)[None]
        drawn = visible[:, f0] if visible is not None else torch.ones_like(front0)
        contour = (boundary & drawn) | (~boundary & (front0 != front1))
        edge_b, edge_i = contour.nonzero(as_tuple=True)
    if edge_b.numel() == 0:
        return image, mask
    p0 = screen[edge_b, edges[edge_i, 0]]  # (E', 2), differentiable
    p1 = screen[edge_b, edges[edge_i, 1]]
    delta = (p1 - p0).detach()
    steep = delta[:, 1].abs() >= delta[:, 0].abs()  # walk rows (horizontal pairs) or columns

    found_p, found_q, found_s = [], [], []
    for walk_rows in (True, False):
        sel = (steep if walk_rows else ~steep).nonzero().squeeze(1)
        if sel.numel() == 0:
            continue
        along, across = (1, 0) if walk_rows else (0, 1)  # coordinate walked / crossed
        lines, size = (height, width) if walk_rows else (width, height)
        a0, a1 = p0[sel, along], p1[sel, along]
        lo = torch.minimum(a0, a1).detach()
        hi = torch.maximum(a0, a1).detach()
        first = torch.ceil(lo - 0.5).clamp(min=0).long()
        last = (torch.ceil(hi - 0.5) - 1).clamp(max=lines - 1).long()
        counts = (last - first + 1).clamp(min=0)
        total = int(counts.sum())
        if total == 0:
            continue
        which = torch.repeat_interleave(torch.arange(sel.numel(), device=screen.device), counts, output_size=total)
        line = first[which] + torch.arange(total, device=screen.device) - (counts.cumsum(0) - counts)[which]
        centre = line.to(screen.dtype) + 0.5
        e = sel[which]
        t = (centre - p0[e, along]) / (p1[e, along] - p0[e, along])
        crossing = p0[e, across] + t * (p1[e, across] - p0[e, across])  # differentiable
        left = torch.floor(crossing.detach() - 0.5).long()
        inside = (left >= 0) & (left + 1 < size)
        b, line, left, crossing = edge_b[e][inside], line[inside], left[inside], crossing[inside]
        if walk_rows:
            first_cov, second_cov = covered[b, line, left], covered[b, line, left + 1]
            first_pix, second_pix = (b * height + line) * width + left, (b * height + line) * width + left + 1
        else:
            first_cov, second_cov = covered[b, left, line], covered[b, left + 1, line]
            first_pix, second_pix = (b * height + left) * width + line, (b * height + left + 1) * width + line
        pair = first_cov != second_cov
        s = torch.where(first_cov, crossing - (left + 0.5), (left + 1.5) - crossing)
        p = torch.where(first_cov, first_pix, second_pix)
        q = torch.where(first_cov, second_pix, first_pix)
        found_p.append(p[pair])
        found_q.append(q[pair])
        found_s.append(s[pair])
    if not found_s:
        return image, mask
    p, q, s = torch.cat(found_p), torch.cat(found_q), torch.cat(found_s)
    if s.numel() == 0:
        return image, mask
    # One crossing per pixel pair: the nearest to the covered centre.
    pair_key = p * 4 + torch.where(q == p + 1, 0, torch.where(q == p - 1, 1, torch.where(q > p, 2, 3)))
    order = torch.argsort(pair_key.double() + s.detach().clamp(0.0, 1.0).double() * 0.5)
    pair_key, p, q, s = pair_key[order], p[order], q[order], s[order]
    keep = torch.ones_like(pair_key, dtype=torch.bool)
    keep[1:] = pair_key[1:] != pair_key[:-1]
    p, q, s = p[keep], q[keep], s[keep]

    flat_image = image.reshape(-1, channels)
    target = torch.where(s >= 0.5, q, p)
    colour = flat_image[p] - background
    flat_image = flat_image.index_add(0, target, (s - 0.5)[:, None] * colour)
    flat_mask = mask.reshape(-1).index_add(0, target, s - 0.5).clamp(0.0, 1.0)
    return flat_image.view(batch, height, width, channels), flat_mask.view(batch, height, width)
