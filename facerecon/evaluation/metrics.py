"""Accuracy metrics of a reconstruction against a ground truth (numpy only, float64).

Geometry follows the NoW benchmark: the prediction is aligned rigidly (optionally with a scale)
to the ground truth, and distances are measured on the ground truth's face region (a sphere
around the nose tip). Two distances:

- **vertex-to-vertex** when both meshes share a topology: the alignment is the least-squares
  fit of corresponding vertices (:func:`similarity_fit`), the error the distance between them;
- **point-to-surface** (NoW's scan-to-mesh) for any topology: an initial alignment from a few
  landmark points, refined by ICP (:func:`icp`), then the distance from each ground-truth point
  to the closest point of the predicted surface (:func:`closest_points`).

NoW reports the median, mean and standard deviation of all those distances
(:func:`distance_stats`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..landmarks import OUTER_EYE_CORNERS

__all__ = [
    "Similarity", "similarity_fit", "vertex_normals", "ClosestPoints", "SurfaceIndex", "closest_points", "icp", "distance_stats",
    "angles_deg", "scaled_rmse", "psnr", "landmark_distances",
]


@dataclass(frozen=True)
class Similarity:
    """The transform x -> scale · rotation · x + translation.

    Attributes:
        rotation: (3, 3) proper rotation (det +1).
        translation: (3,).
        scale: positive scalar (1 for a rigid transform).
    """

    rotation: np.ndarray
    translation: np.ndarray
    scale: float = 1.0

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) points -> (N, 3) transformed points."""
        return self.scale * np.asarray(points, np.float64) @ self.rotation.T + self.translation

    def rotate(self, directions: np.ndarray) -> np.ndarray:
        """(N, 3) directions (normals) rotated, not scaled or moved."""
        return np.asarray(directions, np.float64) @ self.rotation.T

    def then(self, other: "Similarity") -> "Similarity":
        """The transform applying ``self`` first, then ``other``."""
        return Similarity(other.rotation @ self.rotation,
                          other.scale * self.translation @ other.rotation.T + other.translation,
                          other.scale * self.scale)

    @staticmethod
    def identity() -> "Similarity":
        """The transform that changes nothing."""
        return Similarity(np.eye(3), np.zeros(3), 1.0)


def similarity_fit(source: np.ndarray, target: np.ndarray, scale: bool = False,
                   weights: np.ndarray | None = None) -> Similarity:
    """Least-squares transform mapping ``source`` points onto corresponding ``target`` points (Umeyama).

    Reflections are excluded (a mirrored face is not a face).

    Args:
        source, target: (N, 3) corresponding points, N >= 3.
        scale: also fit a scale; otherwise the transform is rigid.
        weights: (N,) non-negative weights, or None for equal weights.
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    w = np.ones(len(source)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    mu_s, mu_t = w @ source, w @ target
    s0, t0 = source - mu_s, target - mu_t
    covariance = (t0 * w[:, None]).T @ s0
    u, sigma, vt = np.linalg.svd(covariance)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2] = -1.0
    rotation = u @ np.diag(d) @ vt
    factor = 1.0
    if scale:
        variance = float(w @ (s0 ** 2).sum(1))
        factor = float((sigma * d).sum() / variance) if variance > 0 else 1.0
    return Similarity(rotation, mu_t - factor * rotation @ mu_s, factor)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit vertex normals, area-weighted averages of the incident triangles' normals."""
    vertices = np.asarray(vertices, np.float64)
    v0, v1, v2 = (vertices[faces[:, i]] for i in range(3))
    face_normals = np.cross(v1 - v0, v2 - v0)
    normals = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(normals, faces[:, i], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(length, 1e-12)


def _incident_triangles(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangles around each vertex as compressed rows: ``(starts (V + 1,), triangles)``; the
    triangles of vertex v are ``triangles[starts[v]:starts[v + 1]]``."""
    flat = faces.reshape(-1)
    order = np.argsort(flat, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=n_vertices))])
    return starts, order // 3


def _closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest points of triangles (a, b, c) to points p, all (..., 3) -> (closest, barycentric (..., 3)).

    The region tests of Ericson, *Real-Time Collision Detection* (2005), §5.1.5, vectorised.
    """
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    bp = p - b
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    cp = p - c
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2

    denom = va + vb + vc
    safe = np.where(np.abs(denom) < 1e-300, 1.0, denom)
    v, w = vb / safe, vc / safe  # interior
    bary = np.stack([1.0 - v - w, v, w], -1)

    def region(mask, weights):
        nonlocal bary
        bary = np.where(mask[..., None], weights, bary)

    def ratio(num, den):
        return num / np.where(np.abs(den) < 1e-300, 1.0, den)

    # Ericson tests the regions in the order A, B, AB, C, AC, BC and returns at the first that
    # holds; applying them in reverse order lets the earlier tests overwrite the later ones.
    one, zero = np.ones_like(d1), np.zeros_like(d1)
    t_bc = ratio(d4 - d3, (d4 - d3) + (d5 - d6))
    region((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), np.stack([zero, 1 - t_bc, t_bc], -1))
    t_ac = ratio(d2, d2 - d6)
    region((vb <= 0) & (d2 >= 0) & (d6 <= 0), np.stack([1 - t_ac, zero, t_ac], -1))
    region((d6 >= 0) & (d5 <= d6), np.stack([zero, zero, one], -1))
    t_ab = ratio(d1, d1 - d3)
    region((vc <= 0) & (d1 >= 0) & (d3 <= 0), np.stack([1 - t_ab, t_ab, zero], -1))
    region((d3 >= 0) & (d4 <= d3), np.stack([zero, one, zero], -1))
    region((d1 <= 0) & (d2 <= 0), np.stack([one, zero, zero], -1))
    closest = bary[..., 0:1] * a + bary[..., 1:2] * b + bary[..., 2:3] * c
    return closest, bary


@dataclass(frozen=True)
class ClosestPoints:
    """Closest points of a mesh surface to query points.

    Attributes:
        points: (N, 3) closest surface points.
        triangles: (N,) index of the triangle each lies on.
        barycentric: (N, 3) weights of that triangle's vertices.
        distances: (N,) Euclidean distances from the queries.
    """

    points: np.ndarray
    triangles: np.ndarray
    barycentric: np.ndarray
    distances: np.ndarray


class SurfaceIndex:
    """A triangle mesh prepared for closest-point queries (a k-d tree of its vertices).

    Candidates of a query are the triangles around its ``neighbours`` nearest mesh vertices,
    which hold the true closest triangle for any mesh whose triangles are small next to the
    query's distance from the surface (face meshes at the scale of reconstruction errors).

    Args:
        vertices: (V, 3); faces: (F, 3) int; neighbours: nearest vertices whose triangles are tried.
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, neighbours: int = 6) -> None:
        from scipy.spatial import cKDTree

        self.vertices = np.asarray(vertices, np.float64)
        self.faces = np.asarray(faces, np.int64)
        self.used = np.unique(self.faces)
        self.tree = cKDTree(self.vertices[self.used])
        self.incident = _incident_triangles(self.faces, len(self.vertices))
        self.neighbours = min(neighbours, len(self.used))

    def closest(self, queries: np.ndarray, chunk: int = 4096) -> ClosestPoints:
        """Closest surface points of (N, 3) ``queries``."""
        queries = np.asarray(queries, np.float64)
        starts, triangles = self.incident
        parts = [(np.empty((0, 3)), np.empty(0, np.int64), np.empty((0, 3)), np.empty(0))]
        for start in range(0, len(queries), chunk):
            p = queries[start:start + chunk]
            _, nearest = self.tree.query(p, k=self.neighbours)
            nearest = self.used[nearest.reshape(len(p), self.neighbours)].ravel()
            counts = starts[nearest + 1] - starts[nearest]
            # One candidate per (query, triangle around one of its nearest vertices), grouped by query.
            owner = np.repeat(np.repeat(np.arange(len(p)), self.neighbours), counts)
            offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            tri = triangles[np.repeat(starts[nearest], counts) + offset]
            corners = self.vertices[self.faces[tri]]
            closest, bary = _closest_on_triangles(p[owner], corners[:, 0], corners[:, 1], corners[:, 2])
            dist = np.linalg.norm(closest - p[owner], axis=-1)
            order = np.lexsort((dist, owner))
            best = order[np.searchsorted(owner[order], np.arange(len(p)))]  # the nearest candidate of each query
            parts.append((closest[best], tri[best], bary[best], dist[best]))
        return ClosestPoints(*(np.concatenate(column) for column in zip(*parts)))


def closest_points(queries: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> ClosestPoints:
    """Closest points on a triangle mesh to (N, 3) queries (point-to-surface distances); see
    :class:`SurfaceIndex` to query one mesh many times."""
    return SurfaceIndex(vertices, faces).closest(queries)


def _rotation(rotvec: np.ndarray) -> np.ndarray:
    """(3, 3) rotation by the angle |rotvec| about rotvec (Rodrigues)."""
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-15:
        return np.eye(3)
    k = rotvec / angle
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle) * cross + (1.0 - math.cos(angle)) * cross @ cross


def icp(scan: np.ndarray, vertices: np.ndarray, faces: np.ndarray, initial: Similarity, scale: bool = False,
        iterations: int = 30, sample: int = 2000, tolerance: float = 1e-4, seed: int = 0) -> Similarity:
    """Refine the transform of a mesh onto scan points, minimising the scan-to-mesh distances
    (as NoW's rigid alignment does) by point-to-plane ICP.

    Each iteration finds, for (a fixed random subset of) the scan points, the closest points of
    the transformed mesh and solves the linearised least-squares problem for the small motion
    (rotation about the scan's centroid, translation, and scale if asked) that moves those points
    along their surface normals onto the scan points. Point-to-plane steps let the surface slide
    along itself, which point-to-point ICP does only slowly.

    Args:
        scan: (N, 3) ground-truth points; vertices (V, 3) and faces (F, 3): the predicted mesh.
        initial: transform of the mesh to start from (e.g. from landmarks).
        scale: also fit a scale.
        iterations: most iterations; stops earlier when the RMS distance improves by less than
            ``tolerance`` mm.
        sample: number of scan points used per iteration (all when fewer).
    Returns:
        The transform mapping mesh vertices onto the scan.
    """
    scan = np.asarray(scan, np.float64)
    if len(scan) > sample:
        scan = scan[np.random.default_rng(seed).choice(len(scan), sample, replace=False)]
    vertices = np.asarray(vertices, np.float64)
    surface = SurfaceIndex(vertices, faces)
    corners = vertices[surface.faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    face_normals /= np.maximum(np.linalg.norm(face_normals, axis=1, keepdims=True), 1e-12)
    centre = scan.mean(0)
    transform, best, best_distance = initial, initial, math.inf  # best: lowest RMS distance seen
    for _ in range(iterations):
        # Query the fixed mesh with the scan moved into the mesh's frame (the inverse transform).
        found = surface.closest((scan - transform.translation) @ transform.rotation / transform.scale)
        distance = float(np.sqrt((found.distances ** 2).mean())) * transform.scale
        if distance > best_distance - tolerance:  # converged (or overshot from a poor start)
            break
        best, best_distance = transform, distance
        points = transform(found.points) - centre
        normals = transform.rotate(face_normals[found.triangles])
        columns = [np.cross(points, normals), normals] + ([(points * normals).sum(1, keepdims=True)] if scale else [])
        residual = ((scan - centre - points) * normals).sum(1)
        step = np.linalg.lstsq(np.concatenate(columns, axis=1), residual, rcond=None)[0]
        rotation, factor = _rotation(step[:3]), 1.0 + (float(step[6]) if scale else 0.0)
        transform = transform.then(Similarity(rotation, centre - factor * rotation @ centre + step[3:6], factor))
    return best


def distance_stats(distances: np.ndarray) -> dict[str, float]:
    """NoW's summary of distances: ``median``, ``mean`` and ``std`` (NaN for none)."""
    d = np.asarray(distances, np.float64).ravel()
    if d.size == 0:
        return {"median": float("nan"), "mean": float("nan"), "std": float("nan")}
    return {"median": float(np.median(d)), "mean": float(d.mean()), "std": float(d.std())}


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) angles in degrees between corresponding (N, 3) directions (need not be unit)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def scaled_rmse(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, np.ndarray]:
    """RMS error of (N, C) values after the best scale per channel (albedo and light are only known
    up to a scale from one photo).

    Returns:
        ``(rmse, scales)``: the error and the (C,) scales applied to ``prediction``.
    """
    p, t = np.asarray(prediction, np.float64), np.asarray(truth, np.float64)
    scales = (p * t).sum(0) / np.maximum((p * p).sum(0), 1e-12)
    return float(np.sqrt(((p * scales - t) ** 2).mean())), scales


def psnr(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over the pixels of ``mask``.

    Args:
        prediction, target: (H, W, C) images in [0, peak]; mask: (H, W) bool.
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
        return float("nan")
    diff = np.asarray(prediction, np.float64)[mask] - np.asarray(target, np.float64)[mask]
    mse = float((diff ** 2).mean())
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak ** 2 / mse))


def landmark_distances(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(..., 68, 2) landmarks and (..., 68, 2) reference landmarks -> (..., 68) each point's distance
    from the reference's, over the reference's outer-eye-corner distance (the NME's terms)."""
    points, reference = np.asarray(points, np.float64), np.asarray(reference, np.float64)
    right, left = OUTER_EYE_CORNERS
    eyes = np.linalg.norm(reference[..., right, :] - reference[..., left, :], axis=-1)
    return np.linalg.norm(points - reference, axis=-1) / np.maximum(eyes, 1e-9)[..., None]
