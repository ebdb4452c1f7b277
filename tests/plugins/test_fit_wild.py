"""The whole ``fit`` task on photos from the wild made from what packages ship.

One cut-down run of ``recipes/quickstart.yaml`` (128 px crops, 32-texel maps, 300 landmark
steps, light 5, photometric 15, textures 5; the default ``auto`` detectors) fits, in one batch:

* a 1280 × 720 canvas (:func:`facerecon.testing.photos.compose`) holding three faces away from
  its centre: the astronaut turned +30° in the image plane, her mirror image turned −30°, and
  Grace Hopper 80 px wide;
* two synthetic faces (:func:`facerecon.evaluation.draw.draw_truth`, rendered by Mitsuba with
  the ``synthetic-faces`` dataset's photo renderer) turned by +50° and −50° of yaw.

Each face must be found and fitted (status ok) with its fitted landmarks within 0.07
inter-ocular distances of the detected ones (the row's ``landmark_error_iod``, which weighs the
points as the landmark loss does: by the detector's confidence, a turned head's jaw contour
faded out); the synthetic faces' fitted yaw must be within 15° of the truth.

Measured on the shared 2-core CPU (the run takes about 9 s), landmark error in IOD and fitted yaw:

    canvas: +30° 0.055, mirrored −30° 0.062, Grace Hopper 80 px 0.066;
    synthetic +50° 0.063 (48.4°), −50° 0.065 (−44.1°)

Before, the canvas faces were at 0.067/0.081/0.083 and the turned ones at 0.157/0.145 with
yaws of about ±33°, for two reasons: (1) the quickstart's landmark losses were in squared
pixels, so with 128 px crops they weighed 4× less against the priors and the photometric loss
than at the quickstart's 256 px (they are now in crop sides, ``normalize: image``); (2) on a
head turned by 50° the face-mesh detector's jaw contour lies 0.5-1 inter-ocular distances from
bfm-lite's fixed jaw landmark vertices and pulled the fitted yaw back to about 33° (the landmark
loss now fades the contour out between 25° and 45° of yaw estimated from the detected
landmarks, :mod:`facerecon.contour`). Against the synthetic faces' true landmarks the fit with
the full quickstart schedule is closer than the detector itself (0.04-0.07 against 0.07-0.085
IOD), so what remains between fitted and detected points is partly the detector's error.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from facerecon.api import resolve_device
from facerecon.errors import FaceReconError
from facerecon.evaluation.draw import draw_truth
from facerecon.evaluation.settings import DrawSettings
from facerecon.geometry import euler_to_matrix
from facerecon.imaging import write_image
from facerecon.pluginmanager import load_plugins
from facerecon.recipe import Builder
from facerecon.runner import run_recipe
from facerecon.testing.photos import Placement, compose

REPO = Path(__file__).resolve().parents[2]
MAX_ERROR_IOD = 0.07
MAX_YAW_ERROR_DEG = 15.0
YAWS_DEG = (50, -50)
PLACEMENTS = (
    Placement("astronaut", (300, 220), 100, degrees=30),
    Placement("astronaut", (960, 220), 100, degrees=-30, mirror=True),
    Placement("grace_hopper", (640, 520), 80),
)
CUT_DOWN = ["task.image_size=128", "task.render_max_side=128", "task.batch_size=5", "model.texture_size=32",
            "stages.landmarks.steps=300", "stages.light.steps=5", "stages.photometric.steps=15",
            "stages.textures.steps=5"] + [f"exporters.{name}=null" for name in ("obj", "glb", "ply", "envmap", "strip", "losses")]


def turned_face(model, yaw_deg: float, rng: np.random.Generator):
    """A random face (seeded) at the centre of a 256 px photo, facing the camera except for ``yaw_deg``
    of yaw, its face region's centroid kept where :func:`draw_truth` put it."""
    settings = DrawSettings(image_size=(256, 256), yaw_deg=0.0, pitch_deg=0.0, roll_deg=0.0, offset=0.0,
                            face_px=(120.0, 120.0), identity_std=0.7, expression_std=0.5, texture_size=256)
    truth = draw_truth(model, rng, settings, "bfm-lite")
    rotation = np.array([math.pi, math.radians(yaw_deg), 0.0])
    drawn, turned = euler_to_matrix(truth.rotation.astype(np.float64)), euler_to_matrix(rotation)
    model_frame = (truth.vertices - truth.translation) @ drawn  # R^T (v - t), row vectors
    centre = model_frame[truth.face_mask].mean(0)
    translation = truth.vertices[truth.face_mask].mean(0) - turned @ centre
    return dataclasses.replace(truth, rotation=rotation.astype(np.float32), translation=translation.astype(np.float32),
                               vertices=(model_frame @ turned.T + translation).astype(np.float32))


def facing_yaw(rotation: np.ndarray) -> float:
    """Degrees the face (model +z) is turned from facing the camera, about the camera's y axis;
    positive: towards the photo's left."""
    normal = np.asarray(rotation, np.float64) @ np.array([0.0, 0.0, 1.0])
    return math.degrees(math.atan2(-normal[0], -normal[2]))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The canvas and the two turned faces fitted in one run: (summary, output folder, rows by face)."""
    from facerecon.evaluation.backgrounds import background
    from plugins.evaluation.photo import render_photo

    photos = tmp_path_factory.mktemp("wild")
    write_image(photos / "group.png", compose(list(PLACEMENTS)).image)
    host = load_plugins()
    try:
        model = Builder(host.registry, resolve_device("cpu"), tmp_path_factory.mktemp("cache")).build_node(
            "morphable_model", {"type": "bfm-lite"})
        for yaw in YAWS_DEG:
            rng = np.random.default_rng(7)  # the same face both ways
            truth = turned_face(model, yaw, rng)
            image, _, _ = render_photo(truth, background(rng, ["coffee"], 256, 256), spp=4, seed=0, noise=2.0, rng=rng)
            write_image(photos / f"yaw{yaw:+d}.png", image)
    except FaceReconError as exc:  # Mitsuba's CPU backend needs a shared libLLVM
        pytest.skip(str(exc))
    output = tmp_path_factory.mktemp("fitted")
    summary = run_recipe(REPO / "recipes" / "quickstart.yaml", host, sets=CUT_DOWN, input=str(photos),
                         output=str(output), device="cpu")
    rows = {row["face"]: row for row in summary.rows}
    for name, row in rows.items():
        print(f"{name}: {row['status']}, landmark error {row['landmark_error_iod']:.4f} IOD")
    return summary, output, rows


def _params(output: Path, name: str) -> dict:
    return json.loads((output / name / "params.json").read_text())


def test_every_face_of_the_canvas_is_fitted_ok_and_close_to_its_landmarks(fitted):
    """Three faces placed (turned ±30°, mirrored, 80 px) -> three faces written, each status ok,
    each fitted within 0.07 IOD of its detected landmarks, one per placed face."""
    summary, output, rows = fitted
    faces = sorted(name for name in rows if name.startswith("group"))
    assert faces == [f"group_face{i}" for i in range(len(PLACEMENTS))], (faces, summary.skipped)
    found = []
    for name in faces:
        row = rows[name]
        assert row["status"] == "ok", row
        assert row["landmark_error_iod"] <= MAX_ERROR_IOD, f"{name}: {row['landmark_error_iod']:.4f} IOD"
        centre = np.asarray(_params(output, name)["landmarks"]["detected"]).mean(0)
        found.append(int(np.argmin([np.hypot(*(centre - p.centre)) for p in PLACEMENTS])))
    assert sorted(found) == list(range(len(PLACEMENTS))), "each placed face is fitted once"


@pytest.mark.parametrize("yaw", YAWS_DEG)
def test_a_face_turned_by_50_degrees_is_fitted_ok_with_its_yaw(fitted, yaw):
    """A synthetic face at ±50° of yaw: found, status ok, fitted within 0.07 IOD of its detected
    landmarks, and turned the right way by about the right amount (within 15°)."""
    summary, output, rows = fitted
    name = f"yaw{yaw:+d}"
    assert name in rows, summary.skipped
    row = rows[name]
    assert row["status"] == "ok", row
    assert row["landmark_error_iod"] <= MAX_ERROR_IOD, f"{name}: {row['landmark_error_iod']:.4f} IOD"
    fitted_yaw = facing_yaw(_params(output, name)["pose"]["rotation_matrix"])
    assert abs(fitted_yaw - yaw) <= MAX_YAW_ERROR_DEG, f"{name}: fitted yaw {fitted_yaw:.1f}°"
