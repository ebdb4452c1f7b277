"""The fit's accuracy on ground truth without the inverse crime: ``recipes/eval-synthetic.yaml``
itself, on the first faces of its set.

The faces are drawn from bfm-lite's priors and path traced by Mitsuba with its own principled
BSDF, sun and ambient light onto photo backgrounds; the fit detects its own landmarks. The run
keeps the recipe's three variants — the quickstart fit, the same with its photometric stage path
traced, and the fit stopped after its landmark stage — and the mean-face baseline, at a smaller crop than the
recipe's so that the suite stays quick.

The photometric stage must earn its place: the median vertex-to-vertex error of the quickstart
fit (``full``: rasterized photometric stage) and of its ``path-traced`` variant must each lie below
the landmarks-only fit's by at least ``GAIN_MM`` and below the mean face's by at least
``MEAN_FACE_GAIN_MM``. Measured on the set's first four faces at these settings (2-core CPU,
~2-4 min with the set's generation): full 1.46 mm, path-traced 1.66, landmarks-only 1.86, mean face
1.86 (README, Measuring accuracy, for all 20 faces at the recipe's settings). These four faces are
all turned by 14-34° and the sliding jaw contour did not help them at this crop (landmarks-only
1.72, path-traced 1.35 with the fixed contour), while it did on the 20 faces (landmarks-only
1.85 -> 1.83, full 1.80 -> 1.74 with the contour alone) and on 30 others.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from facerecon.errors import FaceReconError
from facerecon.pluginmanager import load_plugins
from facerecon.runner import run_recipe

REPO = Path(__file__).resolve().parents[2]
FACES = 4
#: The path-traced fit must beat the landmarks-only fit by this much (mm, median v2v).
GAIN_MM = 0.1
#: ... and the mean face by this much.
MEAN_FACE_GAIN_MM = 0.1


@pytest.fixture(scope="module")
def accuracy(tmp_path_factory) -> dict:
    """accuracy.json of eval-synthetic.yaml on the first faces, two variants, smaller crops."""
    import yaml

    recipe = yaml.safe_load((REPO / "recipes" / "eval-synthetic.yaml").read_text())
    variants = recipe["task"]["variants"]
    small = [f"task.batch_size={FACES}", "task.image_size=128", "task.render_max_side=256",
             "exporters={params: {type: params}}"]
    chosen = {name: [*variants[name], *small] for name in ("full", "path-traced", "landmarks-only")}
    path = tmp_path_factory.mktemp("recipes") / "eval.yaml"
    recipe["task"]["recipe"] = str(REPO / "recipes" / recipe["task"]["recipe"])
    recipe["task"]["variants"] = chosen
    recipe["task"]["baselines"] = ["mean-face"]
    recipe["dataset"]["count"] = FACES
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    output = tmp_path_factory.mktemp("accuracy")
    try:
        run_recipe(path, load_plugins(), output=str(output))
    except FaceReconError as exc:
        if "libLLVM" in str(exc):
            pytest.skip(str(exc))
        raise
    result = json.loads((output / "accuracy.json").read_text())
    print("\nv2v median (mm):", {k: round(v["v2v_median"], 3) for k, v in result["common"].items()})
    return result


def test_every_face_is_reconstructed(accuracy):
    assert accuracy["common_faces"] == FACES


@pytest.mark.parametrize("variant", ["full", "path-traced"])
def test_the_photometric_stage_beats_landmarks_alone(accuracy, variant):
    rows = accuracy["common"]
    assert rows[variant]["v2v_median"] < rows["landmarks-only"]["v2v_median"] - GAIN_MM, rows


@pytest.mark.parametrize("variant", ["full", "path-traced"])
def test_the_fit_beats_the_mean_face(accuracy, variant):
    rows = accuracy["common"]
    assert rows[variant]["v2v_median"] < rows["mean-face"]["v2v_median"] - MEAN_FACE_GAIN_MM, rows
