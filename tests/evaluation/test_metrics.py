"""The evaluation's metrics on exact, hand-checkable inputs (no model, no renderer)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from facerecon.evaluation.metrics import (Similarity, SurfaceIndex, angles_deg, closest_points, distance_stats, icp,
                                          psnr, scaled_rmse, similarity_fit, vertex_normals)


@pytest.fixture(scope="module")
def ellipsoid():
    """A bumpy, asymmetric closed surface (an icosphere stretched and dented), mm."""
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    v = mesh.vertices * np.array([70.0, 95.0, 85.0])
    v = v + 8.0 * np.exp(-((v[:, 0] - 30) ** 2 + (v[:, 1] - 20) ** 2) / 800.0)[:, None] * mesh.vertex_normals
    return v, mesh.faces


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    points = rng.normal(0, 50, (200, 3))
    truth = Similarity(Rotation.from_euler("xyz", [40, -25, 70], degrees=True).as_matrix(), np.array([5.0, -8.0, 600.0]), 1.7)
    fitted = similarity_fit(points, truth(points), scale=True)
    assert np.allclose(fitted.rotation, truth.rotation, atol=1e-9) and fitted.scale == pytest.approx(1.7)
    rigid = similarity_fit(points, truth(points) / 1.7 * 1.0, scale=False)
    assert rigid.scale == 1.0 and np.linalg.det(rigid.rotation) == pytest.approx(1.0)


def test_similarity_fit_never_mirrors():
    """A mirrored copy is fitted by a proper rotation (det +1), leaving a residual."""
    rng = np.random.default_rng(1)
    points = rng.normal(0, 10, (50, 3))
    fit = similarity_fit(points, points * np.array([-1.0, 1.0, 1.0]))
    assert np.linalg.det(fit.rotation) == pytest.approx(1.0)
    assert np.abs(fit(points) - points * np.array([-1.0, 1.0, 1.0])).max() > 1.0


def test_similarity_composition():
    rng = np.random.default_rng(2)
    a = Similarity(Rotation.random(random_state=3).as_matrix(), rng.normal(size=3), 2.0)
    b = Similarity(Rotation.random(random_state=4).as_matrix(), rng.normal(size=3), 0.5)
    points = rng.normal(size=(10, 3))
    assert np.allclose(a.then(b)(points), b(a(points)))


def test_closest_points_match_brute_force(ellipsoid):
    """Against the exact distance to every triangle, computed densely on a fine barycentric grid."""
    vertices, faces = ellipsoid
    rng = np.random.default_rng(0)
    queries = vertices[rng.choice(len(vertices), 60)] + rng.normal(0, 3.0, (60, 3))
    found = closest_points(queries, vertices, faces)
    g = np.linspace(0, 1, 41)
    u, v = np.meshgrid(g, g)
    keep = u + v <= 1
    u, v = u[keep], v[keep]
    for q, distance, point, triangle, bary in zip(queries, found.distances, found.points, found.triangles, found.barycentric):
        a, b, c = vertices[faces[triangle]]
        assert np.allclose(bary @ np.stack([a, b, c]), point) and bary.min() >= -1e-12 and bary.sum() == pytest.approx(1.0)
        near = np.argsort(np.linalg.norm(vertices[faces].mean(1) - q, axis=1))[:80]
        corners = vertices[faces[near]]
        samples = corners[:, 0, None] + u[:, None] * (corners[:, 1, None] - corners[:, 0, None]) \
            + v[:, None] * (corners[:, 2, None] - corners[:, 0, None])
        dense = np.linalg.norm(samples - q, axis=-1).min()
        assert distance <= dense + 1e-9  # never farther than any sampled surface point
        assert dense - distance < 0.05  # and the grid (spacing ~0.1 mm here) comes close


def test_points_on_the_surface_are_at_distance_zero(ellipsoid):
    vertices, faces = ellipsoid
    rng = np.random.default_rng(1)
    weights = rng.dirichlet(np.ones(3), 100)
    triangles = rng.choice(len(faces), 100)
    points = (vertices[faces[triangles]] * weights[..., None]).sum(1)
    found = SurfaceIndex(vertices, faces).closest(points)
    assert found.distances.max() < 1e-9


def test_icp_undoes_a_small_rigid_motion(ellipsoid):
    vertices, faces = ellipsoid
    motion = Similarity(Rotation.from_euler("xyz", [4, -3, 5], degrees=True).as_matrix(), np.array([3.0, -2.0, 4.0]))
    scan = vertices[vertices[:, 2] > 20]  # a partial view, as scans are
    moved = motion(vertices)
    back = icp(scan, moved, faces, Similarity.identity(), iterations=60)
    assert np.abs(back(moved) - vertices).max() < 0.05


def test_vertex_normals_of_a_sphere_point_outwards():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=50.0)
    normals = vertex_normals(mesh.vertices, mesh.faces)
    assert angles_deg(normals, mesh.vertices).max() < 1.0


def test_distance_stats_and_angles():
    assert distance_stats(np.array([1.0, 2.0, 6.0])) == {"median": 2.0, "mean": 3.0, "std": pytest.approx(math.sqrt(14 / 3))}
    assert all(math.isnan(v) for v in distance_stats(np.empty(0)).values())
    assert angles_deg(np.array([[1.0, 0, 0]]), np.array([[0, 2.0, 0]]))[0] == pytest.approx(90.0)


def test_scaled_rmse_ignores_a_scale_per_channel():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.1, 0.6, (500, 3))
    error, scales = scaled_rmse(truth * np.array([2.0, 0.5, 1.3]), truth)
    assert error < 1e-12 and np.allclose(scales, [0.5, 2.0, 1 / 1.3])
    assert scaled_rmse(truth + rng.normal(0, 0.05, truth.shape), truth)[0] == pytest.approx(0.05, rel=0.15)


def test_psnr():
    target = np.zeros((4, 4, 3))
    mask = np.ones((4, 4), bool)
    assert psnr(target + 0.1, target, mask) == pytest.approx(20.0)
    assert psnr(target, target, mask) == math.inf and math.isnan(psnr(target, target, ~mask))
