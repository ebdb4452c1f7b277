"""The stage runner on the real bfm-lite pipeline: groups, aliases, delays, and the divergence guard."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
import torch

from facerecon.api import build
from facerecon.errors import FaceReconError
from facerecon.geometry import euler_to_matrix
from facerecon.optimize import LeafParameters, run_stage
from facerecon.pipeline import FacePipeline, FaceTargets

SIZE = 64


@dataclass
class Stage:
    """The fields of a recipe stage the runner reads."""

    steps: int
    lr: float = 0.02
    free: list = field(default_factory=lambda: ["pose", "expression"])
    lr_scale: dict = field(default_factory=dict)
    delay: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def pipeline():
    return FacePipeline(build("morphable_model", "bfm-lite", texture_size=16), build("lighting", "sh"),
                        build("reflectance", "lambertian"), build("renderer", "rasterizer"))


@pytest.fixture(scope="module")
def landmark_loss():
    return {"landmarks": build("loss", "landmark")}


def faces(pipeline, batch: int) -> tuple[LeafParameters, FaceTargets]:
    """B faces a little turned away from where their landmarks put them."""
    layout = pipeline.layout
    with torch.no_grad():
        truth = layout.initial(batch, "cpu", focal=torch.full((batch,), 2.0 * SIZE),
                               rotation=euler_to_matrix(torch.tensor([[math.pi + 0.1, 0.2 * b, 0.0] for b in range(batch)])))
        inputs = pipeline(truth, FaceTargets(torch.zeros(batch, SIZE, SIZE, 3), torch.full((batch, 2), SIZE / 2.0)),
                          render=False)
    targets = FaceTargets(torch.zeros(batch, SIZE, SIZE, 3), torch.full((batch, 2), SIZE / 2.0),
                          landmarks=inputs.landmarks_pred.detach())
    start = layout.initial(batch, "cpu", focal=torch.full((batch,), 2.0 * SIZE))
    return LeafParameters(layout, start), targets


def test_a_stage_lowers_each_faces_loss(pipeline, landmark_loss):
    parameters, targets = faces(pipeline, 2)
    history = run_stage(Stage(steps=60), parameters, pipeline, targets, landmark_loss)
    assert history.totals.shape == (60, 2) and history.terms["landmarks"].shape == (60, 2)
    assert (history.totals[-1] < 0.2 * history.totals[0]).all()
    assert (history.diverged_at == -1).all() and history.reasons == {}


def test_a_diverging_face_stops_and_the_others_go_on_as_alone(pipeline, landmark_loss):
    """Face 1's landmarks are NaN: it stops at step 0 with a reason; face 0 ends exactly where it
    ends when fitted by itself."""
    parameters, targets = faces(pipeline, 2)
    targets.landmarks[1, 5] = float("nan")
    alive = torch.ones(2, dtype=torch.bool)
    history = run_stage(Stage(steps=40), parameters, pipeline, targets, landmark_loss, alive=alive)
    assert alive.tolist() == [True, False]
    assert history.diverged_at.tolist() == [-1, 0] and "nan" in history.reasons[1]
    assert all(torch.isfinite(v).all() for v in parameters.free.values())
    alone, alone_targets = faces(pipeline, 1)
    run_stage(Stage(steps=40), alone, pipeline, alone_targets, landmark_loss)
    for name in ("rotation", "translation", "expression"):
        torch.testing.assert_close(parameters.free[name][0], alone.free[name][0], rtol=1e-4, atol=1e-5)


def test_a_head_pushed_behind_the_camera_is_stopped(pipeline, landmark_loss):
    """A head 40 mm from the camera (translation optimised in dm) is past the 50 mm limit: stopped."""
    parameters, targets = faces(pipeline, 2)
    parameters.free["translation"][1, 2] = 0.4
    history = run_stage(Stage(steps=3), parameters, pipeline, targets, landmark_loss)
    assert history.diverged_at.tolist() == [-1, 0]
    assert "behind the camera" in history.reasons[1]


def test_aliases_delays_and_unknown_groups(pipeline, landmark_loss):
    parameters, targets = faces(pipeline, 1)
    before = {k: v.clone() for k, v in parameters.free.items()}
    run_stage(Stage(steps=5, free=["pose", "identity"], delay={"identity": 10}), parameters, pipeline, targets,
              landmark_loss)
    assert not torch.equal(before["rotation"], parameters.free["rotation"])
    assert not torch.equal(before["translation"], parameters.free["translation"])
    assert torch.equal(before["identity"], parameters.free["identity"]), "identity is delayed past the stage"
    assert torch.equal(before["light"], parameters.free["light"]), "light is not free"
    with pytest.raises(FaceReconError, match="did you mean 'expression'"):
        run_stage(Stage(steps=1, free=["expresion"]), parameters, pipeline, targets, landmark_loss)
