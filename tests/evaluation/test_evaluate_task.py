"""The ``evaluate`` task end to end: a cut-down quickstart fit scored on two small synthetic faces
(Mitsuba, 4 spp) and on the astronaut photo (no truth), through ``facerecon.runner.run_recipe``.

What is checked is the plumbing (runs, tables, summaries, plots, baselines, resume), not the
fit's accuracy: two variants (the cut-down fit and the same fit without its photometric stages)
and the two baselines, measured on a 50 mm face region to keep the scoring quick.
"""
from __future__ import annotations

import csv
import json
import math
import textwrap
from pathlib import Path

import pytest

from facerecon.errors import FaceReconError
from facerecon.evaluation.scoring import METRICS
from facerecon.pluginmanager import load_plugins
from facerecon.runner import run_recipe

REPO = Path(__file__).resolve().parents[2]

FIT = f"""
extends: {REPO / "recipes" / "quickstart.yaml"}
task: {{type: fit, image_size: 64, render_max_side: 256}}
model: {{type: bfm-lite, texture_size: 32}}
device: cpu
stages:
  landmarks: {{steps: 20}}
  light: {{steps: 2}}
  photometric: {{steps: 2}}
  textures: {{steps: 1}}
exporters: {{params: {{type: params}}}}
"""

EVALUATE = """
facerecon: 1
task:
  type: evaluate
  recipe: fit.yaml
  variants: {fit: [], landmarks-only: [stages.light.steps=0, stages.photometric.steps=0, stages.textures.steps=0]}
  crop_radius: 50.0
dataset: {type: synthetic-faces, count: 2, spp: 4, draw: {image_size: [256, 256], face_px: [150, 170], yaw_deg: 20, texture_size: 128}}
device: cpu
"""

PHOTOS = """
facerecon: 1
task: {type: evaluate, recipe: fit.yaml}
dataset: {type: images}
device: cpu
"""


@pytest.fixture(scope="module")
def host():
    return load_plugins()


@pytest.fixture(scope="module")
def recipes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recipes")
    (folder / "fit.yaml").write_text(textwrap.dedent(FIT))
    (folder / "evaluate.yaml").write_text(textwrap.dedent(EVALUATE))
    (folder / "photos.yaml").write_text(textwrap.dedent(PHOTOS))
    return folder


@pytest.fixture(scope="module")
def synthetic(host, recipes, tmp_path_factory):
    output = tmp_path_factory.mktemp("evaluation")
    try:
        summary = run_recipe(recipes / "evaluate.yaml", host, output=str(output))
    except FaceReconError as exc:
        if "libLLVM" in str(exc):
            pytest.skip(str(exc))
        raise
    return summary, output


def test_rows_are_the_summary_per_variant(synthetic):
    summary, _ = synthetic
    assert [row["variant"] for row in summary.rows] == ["fit", "landmarks-only", "mean-face", "expression-only"]
    fit = summary.rows[0]
    assert fit["found"].endswith("/2") and int(fit["found"].split("/")[0]) >= 1, fit
    assert fit["faces"] >= 1
    for name in ("v2v_median", "p2s_median", "normal_deg", "landmark_nme", "albedo_rmse", "light_rmse", "psnr_db"):
        assert math.isfinite(fit[name]) and fit[name] >= 0, (name, fit)
    assert 0.3 < fit["v2v_median"] < 6.0 and fit["seconds"] > 0
    baseline = summary.rows[2]
    assert math.isfinite(baseline["v2v_median"]) and math.isnan(baseline["psnr_db"])


def test_per_face_table_and_summary_files(synthetic):
    _, output = synthetic
    with open(output / "evaluation.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["variant"], r["face"]) for r in rows} == {(v, f) for v in ("fit", "landmarks-only", "mean-face", "expression-only")
                                                          for f in ("face000", "face001")}
    assert set(rows[0]) == {"variant", "face", "status", "seconds", *METRICS}
    for row in rows:
        assert row["status"] == "ok" or row["variant"] in ("fit", "landmarks-only"), row
    summary = json.loads((output / "accuracy.json").read_text())
    assert summary["total_faces"] == 2 and set(summary["common"]) == set(summary["all"])
    assert (output / "accuracy.md").read_text().count("|") > 20
    for picture in ("errors.png", "heatmap.png"):
        assert (output / picture).stat().st_size > 10_000
    for variant in ("fit", "landmarks-only"):
        assert (output / variant / "recipe.resolved.yaml").exists()


def test_a_rerun_scores_the_finished_fits_again(host, recipes, synthetic):
    summary, output = synthetic
    again = run_recipe(recipes / "evaluate.yaml", host, output=str(output))
    first, second = summary.rows[0], again.rows[0]
    assert second["found"] == first["found"] and second["v2v_median"] == pytest.approx(first["v2v_median"])
    assert second["seconds"] == pytest.approx(first["seconds"])  # the fits' own times, from their results


def test_photos_without_truth(host, recipes, tmp_path):
    summary = run_recipe(recipes / "photos.yaml", host, output=str(tmp_path))
    (row,) = summary.rows
    assert row["variant"] == "fit" and row["found"] == "1/1"
    assert 0 < row["fit_nme"] < 0.2 and 5 < row["psnr_db"] < 40 and 0.5 < row["coverage"] <= 1.0
    assert math.isnan(row["v2v_median"])
    assert not (tmp_path / "heatmap.png").exists()


def test_a_missing_recipe_is_reported(host, tmp_path):
    recipe = tmp_path / "evaluate.yaml"
    recipe.write_text(textwrap.dedent(EVALUATE).replace("recipe: fit.yaml", "recipe: nowhere.yaml"))
    with pytest.raises(FaceReconError, match="nowhere.yaml"):
        run_recipe(recipe, host, output=str(tmp_path / "out"))
