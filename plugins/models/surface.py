"""Surface data derived from a model's mean shape: frame centre, unwrap, triangulation, masks.

Everything here works on numpy arrays in the model frame (mm, y up, +z out of the face) and is
shared by every morphable model plugin, so each derived quantity is computed one way only.

The unwrap is a Mercator projection of the directions from the head centre: longitude
``theta = atan2(x, z)`` (0 at the front, positive towards +x) and ``m = asinh(tan(phi))`` with
latitude ``phi = atan2(y, hypot(x, z))``. Mercator is conformal, so triangles keep their shape
and a Delaunay triangulation of it is well shaped on the surface. A plain cylindrical unwrap
(angle, height) folds under the chin, where the surface runs back towards the neck at constant
height, and leaves holes there; the spherical one sees that region from the centre head-on.
"""
from __future__ import annotations

import numpy as np
from matplotlib.path import Path as PolygonPath
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, cKDTree

from facerecon.landmarks import IBUG68_GROUPS

__all__ = [
    "head_centre",
    "unwrap",
    "hidden_vertices",
    "edge_lengths",
    "triangulate",
    "orient_outward",
    "mirror_vertices",
    "face_region",
    "boundary_loops",
    "mesh_report",
]

# Fold detection (see hidden_vertices): a vertex is hidden when another vertex lies within this
# angle of its direction from the head centre and at least FOLD_GAP_MM further out along both the
# ray and the vertex's own surface normal (nostril interiors, the far side of ear folds).
FOLD_ANGLE_RAD = 0.015
FOLD_GAP_MM = 1.5
NORMAL_NEIGHBOURS = 8
# A triangle whose edges stretch by more than this factor under any expression component at
# +-3 standard deviations bridges a gap that opens (the lips): it is dropped.
STRETCH_LIMIT = 2.0
STRETCH_STD = 3.0
# Outline notches (an open triangle with two kept neighbours) are filled this many times over,
# with triangles whose edges are at most NOTCH_EDGE times max_edge_mm.
NOTCH_PASSES = 3
NOTCH_EDGE = 2.0
# Forehead height above the brows, as a fraction of the brow-to-subnasale height (the upper
# third of the face is about as tall as the middle one; 0.6 stays clear of the hairline).
FOREHEAD_FRACTION = 0.6


def head_centre(mean: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The model-frame origin: midpoint of the two upper jaw-contour landmarks.

    iBUG points 0 and 16 sit at the top of the jaw contour, in front of the ears at tragus level;
    their midpoint lies on the symmetry plane near the centre of the head.

    Args:
        mean: (V, 3) mean shape in mm; landmarks: (68,) vertex indices.
    Returns:
        (3,) point to subtract from every vertex.
    """
    return (mean[landmarks[0]] + mean[landmarks[16]]) / 2.0


def unwrap(vertices: np.ndarray) -> np.ndarray:
    """Mercator coordinates of the directions from the origin (the head centre).

    Args:
        vertices: (V, 3) centred model-frame positions.
    Returns:
        (V, 2) ``(theta, m)``: longitude in radians (positive towards +x) and Mercator height.
    """
    x, y, z = vertices.T
    theta = np.arctan2(x, z)
    phi = np.arctan2(y, np.hypot(x, z))
    return np.stack([theta, np.arcsinh(np.tan(phi))], axis=1)


def _normals(vertices: np.ndarray, k: int = NORMAL_NEIGHBOURS) -> np.ndarray:
    """(V, 3) unit normals from the k nearest neighbours (PCA), pointing away from the origin."""
    _, nearest = cKDTree(vertices).query(vertices, k=k)
    patch = vertices[nearest] - vertices[nearest].mean(axis=1, keepdims=True)
    _, vectors = np.linalg.eigh(np.einsum("nki,nkj->nij", patch, patch))
    normals = vectors[:, :, 0]
    return normals * np.sign(np.einsum("ni,ni->n", normals, vertices))[:, None]


def hidden_vertices(vertices: np.ndarray) -> np.ndarray:
    """Vertices under another layer of the surface, seen from the head centre.

    The unwrap can only triangulate one layer per direction. Where the surface folds (the inside
    of the nostrils, the back of the ear rims), the inner layer's vertices are set aside so the
    outer surface stays intact; they keep their place in the vertex arrays but no triangle uses
    them. Using both the ray and the normal offset keeps steep but single-layer regions (the
    crease beside the nose, under the jaw) from being taken for folds.

    Args:
        vertices: (V, 3) centred model-frame positions in mm.
    Returns:
        (V,) bool, True for hidden vertices.
    """
    radius = np.linalg.norm(vertices, axis=1)
    directions = vertices / radius[:, None]
    normals = _normals(vertices)
    pairs = cKDTree(directions).query_pairs(FOLD_ANGLE_RAD, output_type="ndarray")
    inner = np.concatenate([pairs[:, 0], pairs[:, 1]])
    outer = np.concatenate([pairs[:, 1], pairs[:, 0]])
    offset = np.einsum("ni,ni->n", vertices[outer] - vertices[inner], normals[inner])
    covered = (offset > FOLD_GAP_MM) & (radius[outer] > radius[inner] + FOLD_GAP_MM)
    hidden = np.zeros(len(vertices), dtype=bool)
    hidden[inner[covered]] = True
    return hidden


def edge_lengths(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) lengths of the edges (v0v1, v1v2, v2v0) of each triangle; vertices (..., V, 3)."""
    corners = vertices[..., faces, :]
    return np.linalg.norm(corners - np.roll(corners, -1, axis=-2), axis=-1)


def triangulate(vertices: np.ndarray, expression: np.ndarray | None, max_edge_mm: float) -> np.ndarray:
    """Triangles over a mean shape that comes without any, without holes except the mouth.

    Delaunay triangulation of the unwrap of the visible vertices (:func:`hidden_vertices`). A
    triangle is *open* when an edge is longer than ``max_edge_mm`` (it spans the concave
    outline or a fold) or when it stretches more than ``STRETCH_LIMIT`` times under an
    expression component at ``STRETCH_STD`` standard deviations (it bridges the lips, which
    must open). Open triangles are then sorted by the region of open triangles they belong to
    (:func:`_close_holes`): regions enclosed by the surface (ear bowls, nostrils, gaps along the
    neck) are closed again, except the one with the most stretching triangles (the mouth), and notches
    in the outline are filled (:data:`NOTCH_PASSES`). Pieces not connected to the largest one
    are dropped.

    Args:
        vertices: (V, 3) centred mean shape in mm.
        expression: (K, V, 3) expression displacements in mm per standard deviation, or None.
        max_edge_mm: longest edge of a triangle of the open surface (triangles that close
            holes may be longer).
    Returns:
        (F, 3) int64 triangles, counter-clockwise seen from outside.
    """
    visible = np.flatnonzero(~hidden_vertices(vertices))
    flat = unwrap(vertices)
    delaunay = Delaunay(flat[visible])
    faces = visible[delaunay.simplices].astype(np.int64)
    lengths = edge_lengths(vertices, faces)
    long = lengths.max(1) > max_edge_mm
    stretched = np.zeros(len(faces), dtype=bool)
    if expression is not None:
        stretch = np.ones(len(faces))
        for component in expression:
            for sign in (-STRETCH_STD, STRETCH_STD):
                stretch = np.maximum(stretch, (edge_lengths(vertices + sign * component, faces) / lengths).max(1))
        stretched = stretch > STRETCH_LIMIT
    keep = _close_holes(delaunay.neighbors, long | stretched, stretched, lengths.max(1) <= NOTCH_EDGE * max_edge_mm)
    return _counter_clockwise(flat, _largest_piece(faces[keep], len(vertices)))


def _close_holes(neighbors: np.ndarray, open_: np.ndarray, keep_open: np.ndarray, fillable: np.ndarray) -> np.ndarray:
    """Which triangles of a planar triangulation to keep once holes are closed.

    Args:
        neighbors: (F, 3) neighbouring triangle across each edge, -1 on the hull (scipy's Delaunay).
        open_: (F,) bool, triangles that were dropped.
        keep_open: (F,) bool, open triangles of which the region holding the most stays open (the mouth).
        fillable: (F,) bool, open triangles small enough to fill a notch of the outline.
    Returns:
        (F,) bool, the triangles to keep.
    """
    n = len(neighbors)
    rows = np.repeat(np.arange(n), 3)
    cols = neighbors.ravel()
    both_open = (cols >= 0) & open_[rows] & open_[np.maximum(cols, 0)]
    graph = coo_matrix((np.ones(int(both_open.sum())), (rows[both_open], cols[both_open])), shape=(n, n))
    _, region = connected_components(graph, directed=False)
    on_hull = open_ & (neighbors < 0).any(1)
    mouth = np.zeros(n, dtype=bool)
    if (keep_open & open_).any():
        mouth = region == np.bincount(region[keep_open & open_]).argmax()
    outside = np.isin(region, region[on_hull]) | mouth
    keep = ~open_ | ~outside
    for _ in range(NOTCH_PASSES):
        kept_neighbours = np.where(neighbors >= 0, keep[np.maximum(neighbors, 0)], False).sum(1)
        notch = ~keep & fillable & (kept_neighbours >= 2) & ~mouth
        if not notch.any():
            break
        keep |= notch
    return keep


def _largest_piece(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """The triangles of the largest edge-connected piece (drops stray triangles left in folds)."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_vertices, n_vertices))
    _, label = connected_components(graph, directed=False)
    largest = np.bincount(label[faces[:, 0]]).argmax()
    return faces[label[faces[:, 0]] == largest]


def _counter_clockwise(flat: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Order each triangle counter-clockwise in the unwrap (theta right, m up): outward normals."""
    a, b, c = (flat[faces[:, i]] for i in range(3))
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    return np.where((cross < 0)[:, None], faces[:, [0, 2, 1]], faces)


def orient_outward(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Flip a consistently oriented mesh as a whole if most of its area faces the head centre.

    For meshes that ship their own triangles (BFM2009 ``tl``): their orientation is consistent
    but its sign is a convention of the file.

    Args:
        vertices: (V, 3) centred positions; faces: (F, 3).
    Returns:
        (F, 3) triangles with normals pointing out of the head.
    """
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    outward = np.einsum("fi,fi->f", np.cross(b - a, c - a), (a + b + c) / 3.0).sum()
    return faces[:, [0, 2, 1]] if outward < 0 else faces


def mirror_vertices(vertices: np.ndarray, candidates: int = 4, slack_mm: float = 0.5) -> np.ndarray:
    """The mirror vertex of each vertex: nearest to its reflection x -> -x, preferring pairs.

    Among the ``candidates`` nearest vertices to the reflection, no more than ``slack_mm``
    further than the nearest, one whose own nearest mirror is this vertex is taken, so more
    vertices form mirror pairs (``mirror[mirror[i]] == i``) on a vertex layout that is only
    nearly symmetric.

    Args:
        vertices: (V, 3) centred positions.
    Returns:
        (V,) int64.
    """
    distance, nearest = cKDTree(vertices).query(vertices * np.array([-1.0, 1.0, 1.0]), k=candidates)
    first = nearest[:, 0]
    mirror = first.copy()
    index = np.arange(len(vertices))
    for k in range(candidates - 1, -1, -1):  # the nearest qualifying candidate wins
        pairs = (first[nearest[:, k]] == index) & (distance[:, k] <= distance[:, 0] + slack_mm)
        mirror[pairs] = nearest[pairs, k]
    return mirror.astype(np.int64)


def face_region(vertices: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face, forehead to chin and cheek to cheek, without ears and neck.

    In the unwrap, the region is bounded by the jaw contour (iBUG 0-16) below and at the sides,
    and above by the brows (17-26) raised by ``FOREHEAD_FRACTION`` of the brow-to-subnasale
    height (iBUG 33).

    Args:
        vertices: (V, 3) centred mean shape; landmarks: (68,) vertex indices.
    Returns:
        (V,) bool.
    """
    flat = unwrap(vertices)
    points = flat[landmarks]
    brows = points[list(IBUG68_GROUPS["brows"])]
    lift = FOREHEAD_FRACTION * (brows[:, 1].mean() - points[33, 1])
    forehead = brows[::-1] + np.array([0.0, lift])
    outline = np.concatenate([points[list(IBUG68_GROUPS["jaw"])], forehead])
    return PolygonPath(outline).contains_points(flat)


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Boundary loops of a consistently oriented mesh, each in the direction of its triangles' edges.

    Args:
        faces: (F, 3).
    Returns:
        Vertex loops (each (L,), the edge ``loop[i] -> loop[i + 1]`` belongs to a triangle), longest first.
        Vertices where loops touch are walked as best they can (a loop may then be split).
    """
    half = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    n = int(faces.max()) + 1
    keys = half[:, 0] * n + half[:, 1]
    boundary = half[~np.isin(keys, half[:, 1] * n + half[:, 0])]
    following = dict(zip(boundary[:, 0].tolist(), boundary[:, 1].tolist()))
    loops = []
    while following:
        start = next(iter(following))
        loop, vertex = [start], following.pop(start)
        while vertex != start and vertex in following:
            loop.append(vertex)
            vertex = following.pop(vertex)
        loops.append(np.asarray(loop, dtype=np.int64))
    return sorted(loops, key=len, reverse=True)


def mesh_report(vertices: np.ndarray, faces: np.ndarray) -> dict[str, int | float]:
    """Counts that tell a clean triangulation: edges shared by more than two triangles, longest edge.

    Args:
        vertices: (V, 3); faces: (F, 3).
    Returns:
        ``{"triangles", "non_manifold_edges", "boundary_edges", "unused_vertices", "max_edge_mm"}``.
    """
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    used = np.zeros(len(vertices), dtype=bool)
    used[faces.ravel()] = True
    return {
        "triangles": int(len(faces)),
        "non_manifold_edges": int((counts > 2).sum()),
        "boundary_edges": int((counts == 1).sum()),
        "unused_vertices": int((~used).sum()),
        "max_edge_mm": float(edge_lengths(vertices, faces).max()),
    }
