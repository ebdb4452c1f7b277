"""``facerecon compare`` on inputs with ground truth: accuracy columns next to time and losses.

Two variants of a cut-down quickstart fit (with and without its photometric stages) on one small
synthetic face (Mitsuba, 4 spp).
"""
from __future__ import annotations

import csv
import math
import textwrap
from pathlib import Path

import pytest

from facerecon.compare import collect_variants, run_comparison
from facerecon.pluginmanager import load_plugins

REPO = Path(__file__).resolve().parents[2]

RECIPE = f"""
extends: {REPO / "recipes" / "quickstart.yaml"}
task: {{type: fit, image_size: 64, render_max_side: 256}}
model: {{type: bfm-lite, texture_size: 32}}
dataset: {{type: synthetic-faces, count: 1, spp: 4, draw: {{image_size: [256, 256], face_px: [150, 170], yaw_deg: 20,
                                                           texture_size: 128}}}}
device: cpu
stages:
  landmarks: {{steps: 20}}
  light: {{steps: 2}}
  photometric: {{steps: 2}}
  textures: {{steps: 1}}
exporters: {{params: {{type: params}}}}
variants:
  fit: []
  landmarks-only: [stages.light.steps=0, stages.photometric.steps=0, stages.textures.steps=0]
"""


def test_comparison_on_ground_truth_has_accuracy_columns(tmp_path):
    host = load_plugins()
    recipe = tmp_path / "compare.yaml"
    recipe.write_text(textwrap.dedent(RECIPE))
    result = run_comparison(collect_variants([recipe], host, []), host, tmp_path / "out")
    for row in result.rows:
        if "libLLVM" in row.get("reason", ""):
            pytest.skip(row["reason"])
    faces = [row for row in result.rows if row.get("status") == "ok"]
    assert {row["variant"] for row in faces} == {"fit", "landmarks-only"}, result.rows
    for row in faces:
        assert (tmp_path / "out" / row["variant"] / row["face"] / "prediction.npz").is_file()
        for name in ("v2v_median", "p2s_mean", "landmark_nme", "seconds"):
            assert math.isfinite(row[name]) and row[name] >= 0, (name, row)
    with open(tmp_path / "out" / "comparison.csv") as handle:
        columns = next(csv.reader(handle))
    assert {"seconds", "v2v_median", "p2s_median", "psnr_db"} <= set(columns)


TINY = ("task.image_size=64", "task.render_max_side=128", "model.texture_size=32", "stages.landmarks.steps=10",
        "stages.light.steps=1", "stages.photometric.steps=1", "stages.textures.steps=1",
        "exporters={strip: {type: render-strip, panel_height: 64}, glb: {type: glb}}")


def test_an_unavailable_renderer_is_marked_and_the_others_compared(tmp_path):
    """compare-renderers.yaml where redner is not installed: its variant is not run, its row says
    'unavailable (...)' with the reason, and the rasterizer's results, table, plot and page are
    written."""
    host = load_plugins()
    if host.registry.get("renderer", "redner").unavailable() is None:
        pytest.skip("redner is installed here")
    variants = collect_variants([REPO / "recipes" / "compare-renderers.yaml"], host,
                                ["rasterizer=", "redner=renderer.type=redner;renderer.spp=8"])
    output = tmp_path / "out"
    result = run_comparison(variants, host, output, sets=TINY, device="cpu")
    statuses = {row["variant"]: row["status"] for row in result.rows}
    assert statuses["rasterizer"] == "ok"
    assert statuses["redner"].startswith("unavailable (renderer redner: 'pyredner' is not installed")
    assert not (output / "redner").exists()
    with open(output / "comparison.csv") as handle:
        rows = {row["variant"]: row for row in csv.DictReader(handle)}
    assert rows["redner"]["status"] == statuses["redner"]
    assert float(rows["rasterizer"]["seconds"]) > 0
    page = (output / "comparison.html").read_text()
    assert "make redner" in page and 'class="mesh3d" data-mesh="mesh-0"' in page
    assert (output / "comparison.png").is_file() and (output / "rasterizer" / "report.html").is_file()
