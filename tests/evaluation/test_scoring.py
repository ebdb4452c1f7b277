"""Calibration of the accuracy metrics on real bfm-lite faces drawn from the model's priors.

Noise definitions (both 0.5 mm, one independent draw per vertex, seed 1):

- *along the normal*: each ground-truth vertex moves 0.5 mm along its unit normal, outwards or
  inwards at random: vertex-to-vertex and point-to-surface errors both come out at 0.5 mm;
- *in random directions*: each ground-truth vertex moves 0.5 mm in a direction uniform on the
  sphere: vertex-to-vertex 0.5 mm, point-to-surface only the normal part, 0.5 · E|cos| = 0.25 mm.

The prediction is the clean truth mesh, as a perfect reconstruction of a noisy scan would be.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from facerecon.api import build
from facerecon.evaluation.draw import draw_truth
from facerecon.evaluation.metrics import Similarity, vertex_normals
from facerecon.evaluation.prediction import Prediction
from facerecon.evaluation.scoring import (ScoreSettings, envmap_irradiance, face_region, score_baseline,
                                          score_geometry, score_prediction, score_photo)
from facerecon.evaluation.settings import DrawSettings


@pytest.fixture(scope="module")
def model():
    return build("morphable_model", "bfm-lite", texture_size=64)


@pytest.fixture(scope="module")
def truth(model):
    return draw_truth(model, np.random.default_rng(0), DrawSettings(texture_size=64), "bfm-lite")


def _noise(truth, seed=1):
    rng = np.random.default_rng(seed)
    vertices = truth.vertices.astype(np.float64)
    normals = vertex_normals(vertices, truth.faces)
    directions = rng.normal(size=vertices.shape)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return vertices, normals * rng.choice([-1.0, 1.0], (len(vertices), 1)), directions


@pytest.mark.parametrize("kind, p2s", [("along the normal", 0.5), ("in random directions", 0.25)])
def test_truth_with_noise_scores_the_noise(truth, kind, p2s):
    """The truth scored against itself with 0.5 mm of noise (module docstring) added to it."""
    vertices, along_normal, directions = _noise(truth)
    offsets = along_normal if kind == "along the normal" else directions
    noisy = dataclasses.replace(truth, vertices=(vertices + 0.5 * offsets).astype(np.float32))
    score = score_geometry(vertices, truth.faces, truth.landmark_vertices, noisy)
    assert score.metrics["v2v_median"] == pytest.approx(0.5, abs=0.01), score.metrics
    assert score.metrics["v2v_mean"] == pytest.approx(0.5, abs=0.01) and score.metrics["v2v_std"] < 0.01
    assert score.metrics["p2s_median"] == pytest.approx(p2s, abs=0.02), score.metrics
    assert score.metrics["p2s_mean"] == pytest.approx(p2s, abs=0.02), score.metrics


@pytest.mark.parametrize("scale", [False, True])
def test_a_moved_truth_scores_zero(truth, scale):
    """A rigid (and with ``scale``, scaled) copy of the truth in another frame: zero after alignment."""
    motion = Similarity(Rotation.from_euler("xyz", [160, -35, 20], degrees=True).as_matrix(), np.array([40.0, -90.0, 25.0]),
                        1.25 if scale else 1.0)
    score = score_geometry(motion(truth.vertices), truth.faces, truth.landmark_vertices, truth, ScoreSettings(scale=scale))
    assert max(score.metrics[k] for k in ("v2v_mean", "v2v_std", "p2s_mean", "p2s_std")) < 1e-3, score.metrics
    assert score.metrics["normal_deg"] < 0.01


def test_a_scaled_truth_is_not_zero_without_scale_alignment(truth):
    centre = truth.vertices.mean(0)
    scaled = (truth.vertices - centre) * 1.05 + centre
    assert score_geometry(scaled, truth.faces, truth.landmark_vertices, truth).metrics["v2v_mean"] > 1.0


def test_mean_face_scores_its_procrustes_residual(model, truth):
    """The mean-face baseline's vertex-to-vertex error is the residual of the best rigid fit of the
    mean face's face region onto the truth's (checked against scipy's orthogonal Procrustes), below the
    error of the mean face placed with the true pose."""
    score = score_baseline("mean-face", truth)
    region = face_region(truth, 95.0)
    mean, target = truth.baselines["mean-face"][region].astype(np.float64), truth.vertices[region].astype(np.float64)
    rotation, _ = orthogonal_procrustes(mean - mean.mean(0), target - target.mean(0))
    residual = np.linalg.norm((mean - mean.mean(0)) @ rotation + target.mean(0) - target, axis=1)
    assert score.metrics["v2v_mean"] == pytest.approx(residual.mean(), rel=1e-6)
    with torch.no_grad():
        own = model.shape(torch.as_tensor(truth.identity)[None], torch.as_tensor(truth.expression)[None])[0].numpy()
    posed = np.linalg.norm(truth.baselines["mean-face"] - own, axis=1)[region]
    assert score.metrics["v2v_mean"] < posed.mean()
    assert score.metrics["p2s_mean"] < score.metrics["v2v_mean"]  # a surface is closer than its vertices
    assert np.isnan(score.geometry.vertex_errors[~region]).all()
    assert np.allclose(score.geometry.vertex_errors[region], residual, atol=1e-6)


def test_mean_face_of_a_mean_truth_is_exact(model):
    mean_truth = draw_truth(model, np.random.default_rng(3), DrawSettings(identity_std=0.0, expression_std=0.0,
                                                                           texture_size=32))
    score = score_baseline("mean-face", mean_truth)
    assert score.metrics["v2v_mean"] < 1e-3 and score.metrics["p2s_mean"] < 1e-3


def test_expression_only_beats_the_mean_face_when_the_expression_is_strong(model):
    strong = draw_truth(model, np.random.default_rng(4), DrawSettings(identity_std=0.0, expression_std=2.0, texture_size=32))
    assert score_baseline("expression-only", strong).metrics["v2v_mean"] < 1e-3
    assert score_baseline("mean-face", strong).metrics["v2v_mean"] > 0.5


def test_light_of_an_ideal_sh_fit(truth):
    """A 3-band SH light fitted to the truth's irradiance, given as its environment map, scores a few
    percent of irradiance error and points its brightest normal at the sun."""
    sh = build("lighting", "sh", bands=3)
    normals = torch.nn.functional.normalize(torch.randn(4000, 3, generator=torch.Generator().manual_seed(0)), dim=-1)
    expected = torch.as_tensor(truth.irradiance(normals.double().numpy())).float()
    basis = torch.stack([sh.irradiance(torch.eye(sh.n_coeffs)[k][None, :, None].repeat(1, 1, 3), normals[None])[0, :, 0]
                         for k in range(sh.n_coeffs)], 1)
    light = torch.linalg.lstsq(basis, expected).solution[None]
    envmap = sh.environment_map(light, 64, 128)[0].numpy()
    analytic = sh.irradiance(light, normals[None])[0].numpy()
    assert np.abs(envmap_irradiance(envmap, normals.numpy()) - analytic).max() < 1e-3 * np.abs(analytic).max()
    prediction = Prediction(vertices=truth.vertices, faces=truth.faces, image_size=truth.image_size, envmap=envmap)
    metrics = score_prediction(prediction, truth).metrics
    assert metrics["light_rmse"] < 0.08 and metrics["light_deg"] < 3.0, metrics
    assert math.isnan(metrics["psnr_db"]) and math.isnan(metrics["albedo_rmse"])
    ambient = dataclasses.replace(prediction, envmap=sh.environment_map(sh.initial(1), 64, 128)[0].numpy())
    metrics = score_prediction(ambient, truth).metrics
    assert metrics["light_rmse"] > 0.2 and math.isnan(metrics["light_deg"])  # no sun: no direction to compare


def test_albedo_and_landmarks_of_the_truth_itself(truth):
    from facerecon.imaging import sample_map

    albedo = sample_map(truth.diffuse, truth.uvs)
    prediction = Prediction(vertices=truth.vertices, faces=truth.faces, image_size=truth.image_size,
                            vertex_albedo=albedo * np.array([0.5, 2.0, 1.1], np.float32),
                            landmarks_fitted=truth.landmarks, landmarks_detected=truth.landmarks + 3.0)
    metrics = score_prediction(prediction, truth).metrics
    assert metrics["albedo_rmse"] < 1e-6 and metrics["landmark_nme"] == 0.0
    eyes = np.linalg.norm(truth.landmarks[36] - truth.landmarks[45])
    assert metrics["detector_nme"] == pytest.approx(3.0 * math.sqrt(2) / eyes)
    assert metrics["fit_nme"] == pytest.approx(metrics["detector_nme"], rel=0.01)


def test_photometric_scores_against_the_photo(truth):
    height, width = 64, 80
    photo = np.full((height, width, 3), 128, np.uint8)
    render = np.full((height, width, 3), 0.2158605, np.float32)  # linear value of sRGB 128
    mask = np.zeros((height, width), np.float32)
    mask[10:50, 20:60] = 1.0
    region = np.zeros((height, width), bool)
    region[20:60, 20:60] = True
    landmarks = np.zeros((68, 2))
    landmarks[:17] = np.stack([np.linspace(20, 60, 17), np.full(17, 60.0)], 1)  # jaw along the bottom
    landmarks[17:27] = np.stack([np.linspace(20, 60, 10), np.full(10, 20.0)], 1)  # brows along the top
    prediction = Prediction(vertices=truth.vertices, faces=truth.faces, image_size=(width, height), render=render, mask=mask,
                            landmarks_fitted=landmarks, landmarks_detected=landmarks)
    metrics = score_prediction(prediction, dataclasses.replace(truth, region=region), photo).metrics
    assert metrics["psnr_db"] > 50 and metrics["coverage"] == pytest.approx(30 / 40)
    own = score_photo(prediction, photo)
    assert own["psnr_db"] > 50 and own["fit_nme"] == 0.0 and 0.4 < own["coverage"] < 1.0
