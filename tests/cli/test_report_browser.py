"""The run's report in a real browser, and the astronaut's outputs upright.

A tiny real fit of the astronaut photo (quickstart with a 96 px crop and a few steps per stage,
every exporter) writes its results and ``report.html`` through :func:`facerecon.runner.run_recipe`,
as ``make run`` does. Headless Chromium (Debian's, driven by Playwright; see
:mod:`facerecon.testing.browser`) opens the page from ``file://``: every face is listed, the
browser reports no error, and the 3D view draws the face — a view that draws nothing is caught by
the same check. Without Chromium or Playwright these tests are skipped with the reason.

Set ``FACERECON_REPORT_SCREENSHOT=path.png`` to keep the screenshot of the page (the README's
picture is made so, from ``make run``'s report: ``scripts/report_screenshot.py``).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import trimesh

from facerecon.api import build
from facerecon.imaging import read_image
from facerecon.pluginmanager import load_plugins
from facerecon.report.html import viewer_script
from facerecon.runner import run_recipe
from facerecon.testing.browser import browser_missing, open_report

REPO = Path(__file__).resolve().parents[2]
TINY = (
    "task.image_size=96",
    "task.render_max_side=256",
    "model.texture_size=64",
    "stages.landmarks.steps=60",
    "stages.light.steps=3",
    "stages.photometric.steps=3",
    "stages.textures.steps=2",
)
#: The viewer's background colour (viewer/src/viewer.js).
BACKGROUND = np.array([0x20, 0x25, 0x2B])


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory) -> Path:
    """The output folder of a tiny fit of the astronaut photo, every exporter on."""
    output = tmp_path_factory.mktemp("astronaut_run")
    summary = run_recipe(REPO / "recipes" / "quickstart.yaml", load_plugins(), TINY, output=str(output), device="cpu")
    assert [row["face"] for row in summary.rows] == ["astronaut"] and not summary.skipped
    return output


def test_the_run_writes_its_report_beside_the_results(astronaut):
    assert (astronaut / "report.html").is_file() and (astronaut / "contact_sheet.png").is_file()
    assert (astronaut / "astronaut" / "render.panels.json").is_file()


def test_mesh_obj_opens_upright(astronaut):
    """mesh.obj read by trimesh: the brows are above the chin (+y up), the nose towards +z (the
    viewer), as in the model's own frame."""
    mesh = trimesh.load(astronaut / "astronaut" / "mesh.obj", process=False, maintain_order=True)
    landmarks = np.asarray(mesh.vertices)[build("morphable_model", "bfm-lite").landmarks.numpy()]
    chin, brows, nose_tip = landmarks[8], landmarks[17:27].mean(0), landmarks[30]
    assert brows[1] - chin[1] > 60.0  # mm
    assert nose_tip[2] > landmarks[[0, 16]].mean(0)[2] + 20.0


def drawn_fraction(screenshot: np.ndarray) -> float:
    """The fraction of a 3D view's pixels that are not its background (in its middle: the
    buttons at the bottom and the rounded corners left out)."""
    height, width = screenshot.shape[:2]
    middle = screenshot[height // 10:height * 85 // 100, width // 10:width * 9 // 10, :3]
    return float((np.abs(middle.astype(int) - BACKGROUND).sum(-1) > 24).mean())


def view_screenshot(report: Path, tmp_path: Path, keep: str | None = None) -> tuple[np.ndarray, list[str], int]:
    """Open ``report``; return the first 3D view's pixels, the browser's errors and the number of
    faces in the contact sheet. ``keep``: also save the page's screenshot there."""
    with open_report(report, height=1000) as opened:
        states = opened.wait_for_views()
        page = opened.page
        cards = page.eval_on_selector_all("#contact-sheet .card", "els => els.map(e => e.dataset.face)")
        shot = tmp_path / "view.png"
        page.locator(".mesh3d").first.screenshot(path=str(shot))
        if keep:
            page.screenshot(path=keep)
        return read_image(shot), opened.errors + [f"view {s}" for s in states if s != "ready"], cards


@pytest.mark.skipif(browser_missing() is not None, reason=f"no headless browser: {browser_missing()}")
def test_report_in_chromium_lists_every_face_and_draws_it(astronaut, tmp_path):
    assert viewer_script() is not None, "the 3D viewer was not built: run `make` (it bundles three.js with npm)"
    pixels, errors, cards = view_screenshot(astronaut / "report.html", tmp_path,
                                            os.environ.get("FACERECON_REPORT_SCREENSHOT"))
    items = [item["item"] for item in json.loads((astronaut / "summary.json").read_text())["items"]]
    assert cards == items == ["astronaut"]
    assert errors == []
    # The face fills a good part of the view, in skin colours with shading (not one flat colour).
    assert drawn_fraction(pixels) > 0.25
    face = pixels[np.abs(pixels[..., :3].astype(int) - BACKGROUND).sum(-1) > 24][:, :3].astype(float)
    assert face[:, 0].mean() > face[:, 2].mean() + 10 and face.std(0).mean() > 8


@pytest.mark.skipif(browser_missing() is not None, reason=f"no headless browser: {browser_missing()}")
def test_a_blank_view_is_caught(astronaut, tmp_path):
    """The same page with its mesh emptied (no triangles): the view loads, draws nothing, and the
    check above fails on it."""
    page = (astronaut / "report.html").read_text()
    blank = tmp_path / "blank.html"
    blank.write_text(re.sub(r'"triangles": \d+', '"triangles": 0', page))
    pixels, errors, _ = view_screenshot(blank, tmp_path)
    assert errors == [] and drawn_fraction(pixels) < 0.01
