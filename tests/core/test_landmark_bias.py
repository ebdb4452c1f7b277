"""LandmarkBias: a detector's offset from the model's landmarks, measured and removed in the face's frame."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from facerecon.api import build
from facerecon.geometry import apply_pose, project
from facerecon.landmark_bias import LandmarkBias


@pytest.fixture(scope="module")
def mean_landmarks() -> torch.Tensor:
    """(1, 68, 3) bfm-lite's mean-face landmark vertices, mm."""
    model = build("morphable_model", "bfm-lite", texture_size=64)
    with torch.no_grad():
        shape = model.shape(torch.zeros(1, model.n_identity), torch.zeros(1, model.n_expression))
    return shape[:, model.landmarks]


def photographed(landmarks: torch.Tensor, yaw: float, roll: float, distance: float, shift=(0.0, 0.0)) -> np.ndarray:
    """(68, 2) pixels of the landmarks seen by a 1000 px focal camera at the given pose."""
    angles = torch.tensor([[0.0, np.radians(yaw), np.radians(roll)]], dtype=torch.float32)
    camera = apply_pose(landmarks, angles, torch.tensor([[0.0, 0.0, distance]]))
    principal = torch.tensor([[320.0 + shift[0], 240.0 + shift[1]]])
    return project(camera, torch.tensor([1000.0]), 640, 480, principal)[0].numpy().astype(np.float64)


def true_bias() -> LandmarkBias:
    """A bias like a detector's: a constant part, one growing with yaw's sign and one with its size."""
    rng = np.random.default_rng(3)
    return LandmarkBias(rng.normal(0.0, [[[0.03]], [[0.02]], [[0.04]]], size=(3, 68, 2)))


def test_fit_recovers_a_bias_and_correct_removes_it_at_any_roll_and_size(mean_landmarks):
    bias = true_bias()
    rng = np.random.default_rng(0)
    truth = np.stack([photographed(mean_landmarks, rng.uniform(-40, 40), rng.uniform(-20, 20), rng.uniform(400, 900))
                      for _ in range(40)])
    # Detected points are where the bias puts them: offsets computed from the detected points
    # themselves, so solve detected = truth + offsets(detected) by a few fixed-point steps.
    detected = truth.copy()
    for _ in range(20):
        detected = truth + bias.offsets(detected)
    fitted = LandmarkBias.fit(detected, truth, ridge=0.0)
    np.testing.assert_allclose(fitted.coefficients, bias.coefficients, atol=2e-3)

    # A face the fit did not see: turned, rolled, further away and off centre.
    unseen = photographed(mean_landmarks, -25.0, 35.0, 1200.0, shift=(80.0, -50.0))
    seen_there = unseen.copy()
    for _ in range(20):
        seen_there = unseen + bias.offsets(seen_there)
    eyes = np.linalg.norm(unseen[36] - unseen[45])
    before = np.linalg.norm(seen_there - unseen, axis=-1).mean() / eyes
    after = np.linalg.norm(fitted.correct(seen_there) - unseen, axis=-1).mean() / eyes
    assert before > 0.03 and after < 0.002, (before, after)


def test_the_offset_follows_the_face_frame(mean_landmarks):
    bias = true_bias()
    upright = photographed(mean_landmarks, 0.0, 0.0, 600.0)
    rolled = photographed(mean_landmarks, 0.0, 90.0, 300.0)  # about twice as large, turned a quarter
    scale = np.linalg.norm(rolled[36] - rolled[45]) / np.linalg.norm(upright[36] - upright[45])
    assert 1.7 < scale < 2.3
    a, b = bias.offsets(upright), bias.offsets(rolled)
    np.testing.assert_allclose(np.linalg.norm(b, axis=-1), scale * np.linalg.norm(a, axis=-1), rtol=0.02, atol=0.05)
    # A roll of +90° about the camera's z axis (R = Rz) sends the image's x axis to its y axis.
    np.testing.assert_allclose(b[:, 1], scale * a[:, 0], rtol=0.02, atol=0.05)


def test_save_load_and_batch_shapes(tmp_path, mean_landmarks):
    bias = true_bias()
    bias.save(tmp_path / "bias.npz")
    loaded = LandmarkBias.load(tmp_path / "bias.npz")
    np.testing.assert_array_equal(loaded.coefficients, bias.coefficients)
    one = photographed(mean_landmarks, 10.0, 0.0, 600.0)
    batch = np.stack([one, photographed(mean_landmarks, -30.0, 5.0, 500.0)])
    assert loaded.correct(one).shape == (68, 2) and loaded.correct(one).dtype == np.float32
    np.testing.assert_allclose(loaded.correct(batch)[0], loaded.correct(one), atol=1e-4)
    with pytest.raises(ValueError, match="3, 68, 2"):
        LandmarkBias(np.zeros((2, 68, 2)))
