"""The bfm-lite face rendered by the rasterizer still looks like the committed reference picture.

``tests/data/reference_faces.png`` is made by ``scripts/make_reference_renders.py`` (see
``tests/data/README.md``); the grid is rendered once here with the same function. Besides the
pixel comparison, checks that a wrong picture cannot pass run on the fresh render: face coverage,
the lit side of side-lit tiles, symmetry, and where the open mouth changes the face. On failure
the fresh grid is written under the test's ``tmp_path`` (named in the message) to look at.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from facerecon.imaging import read_image, write_image

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "tests" / "data" / "reference_faces.png"
SCRIPT = REPO / "scripts" / "make_reference_renders.py"
#: Same machine: 0. Float noise (a 0.01 mm pose change) gives mean 0.04 and 99th percentile 1.
MAX_MEAN_DIFF = 1.0
MAX_P99_DIFF = 4.0


def _load_script():
    """The script as a module (registered first: its dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location("make_reference_renders", SCRIPT)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


refs = _load_script()


@pytest.fixture(scope="module")
def grid() -> np.ndarray:
    """(256, 512, 3) uint8 grid rendered now."""
    return refs.render_reference_grid()


def _tiles(grid: np.ndarray) -> dict[str, np.ndarray]:
    """Tile name -> (128, 128, 3) float image (sRGB 0-255)."""
    t = refs.TILE
    rows = grid.shape[0] // t
    stack = grid.reshape(rows, t, refs.COLUMNS, t, 3).transpose(0, 2, 1, 3, 4).reshape(-1, t, t, 3)
    return {tile.name: stack[i].astype(np.float64) for i, tile in enumerate(refs.TILES)}


def _face(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels the face covers (the background is black)."""
    return image.max(-1) > 8


def _keep(grid: np.ndarray, tmp_path: Path) -> str:
    """Write the fresh grid for a developer to look at; the sentence for the assertion message."""
    path = write_image(tmp_path / "reference_faces.new.png", grid)
    return f"fresh render written to {path}; compare it with {REFERENCE}"


def test_render_matches_committed_reference(grid, tmp_path):
    reference = read_image(REFERENCE)
    assert reference.shape == grid.shape, _keep(grid, tmp_path)
    diff = np.abs(grid.astype(np.float64) - reference)
    mean, p99 = diff.mean(), np.percentile(diff, 99)
    assert mean <= MAX_MEAN_DIFF and p99 <= MAX_P99_DIFF, (
        f"render differs from the reference: mean |diff| {mean:.3f} (max {MAX_MEAN_DIFF}), "
        f"99th percentile {p99:.1f} (max {MAX_P99_DIFF}). If the change is intended, regenerate with "
        f"`.venv/bin/python scripts/make_reference_renders.py {REFERENCE.relative_to(REPO)}`; "
        + _keep(grid, tmp_path)
    )


def test_face_covers_a_plausible_part_of_every_tile(grid, tmp_path):
    for name, image in _tiles(grid).items():
        face = _face(image)
        filled = ndimage.binary_fill_holes(face)
        holes = (filled & ~face).sum() / filled.sum()
        columns = np.nonzero(filled)[1]
        assert 0.4 <= face.mean() <= 0.65, f"{name}: face covers {face.mean():.2f}; " + _keep(grid, tmp_path)
        assert abs(columns.mean() - refs.TILE / 2) < 6, f"{name}: face off centre; " + _keep(grid, tmp_path)
        # Mouth slit, nostrils and ear folds show the background; more means a broken mesh.
        limit = 0.03 if name == "mouth-open" else 0.01
        assert holes < limit, f"{name}: {holes:.3%} of the face shows background; " + _keep(grid, tmp_path)


def test_frontal_face_is_lit_from_the_camera_and_symmetric(grid, tmp_path):
    tiles = _tiles(grid)
    frontal = tiles["frontal"]
    filled = ndimage.binary_fill_holes(_face(frontal))
    core = ndimage.binary_erosion(filled, iterations=12)
    rim = filled & ~ndimage.binary_erosion(filled, iterations=4)
    luminance = frontal.mean(-1)
    assert luminance[core].mean() > 1.1 * luminance[rim].mean(), _keep(grid, tmp_path)
    mirror = np.abs(frontal - frontal[:, ::-1]).mean()
    assert mirror < 3.0, f"frontal tile not left/right symmetric (mean diff {mirror:.2f}); " + _keep(grid, tmp_path)
    yaw = np.abs(tiles["yaw+30"] - tiles["yaw-30"][:, ::-1]).mean()
    assert yaw < 3.0, f"yaw +30 and -30 tiles are not mirror images ({yaw:.2f}); " + _keep(grid, tmp_path)
    assert np.abs(tiles["yaw+30"] - frontal).mean() > 10.0, _keep(grid, tmp_path)


def _halves(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean colour (3,) of the face pixels of the left and right image halves."""
    face, middle = _face(image), image.shape[1] // 2
    return image[:, :middle][face[:, :middle]].mean(0), image[:, middle:][face[:, middle:]].mean(0)


def test_side_lights_brighten_their_side_of_the_image(grid, tmp_path):
    tiles = _tiles(grid)
    left, right = _halves(tiles["light-left"])
    halves = f"halves {left.mean():.0f} / {right.mean():.0f}; "
    assert left.mean() > 1.3 * right.mean(), "light from the left: " + halves + _keep(grid, tmp_path)
    # Warm key from the right, blue fill from the left.
    left, right = _halves(tiles["light-right-coloured"])
    halves = f"halves {left.round()} / {right.round()}; "
    assert right.mean() > 1.1 * left.mean(), "light from the right: " + halves + _keep(grid, tmp_path)
    assert right[0] - right[2] > left[0] - left[2] + 20, "warm light not on the right: " + halves + _keep(grid, tmp_path)


def test_light_from_above_brightens_the_top(grid, tmp_path):
    image = _tiles(grid)["light-above"]
    face, luminance, third = _face(image), image.mean(-1), refs.TILE // 3
    top, bottom = luminance[:third][face[:third]].mean(), luminance[-third:][face[-third:]].mean()
    assert top > 1.1 * bottom, f"light from above: top {top:.0f}, bottom {bottom:.0f}; " + _keep(grid, tmp_path)


def test_open_mouth_changes_the_lower_third(grid, tmp_path):
    tiles = _tiles(grid)
    diff = np.abs(tiles["mouth-open"] - tiles["frontal"]).mean(-1)
    third = refs.TILE // 3
    upper, lower = diff[:third].sum(), diff[-third:].sum()
    assert upper < 0.02 * diff.sum() and lower > 0.7 * diff.sum(), (
        f"open mouth changes upper/lower thirds by {upper:.0f}/{lower:.0f} of {diff.sum():.0f}; "
        + _keep(grid, tmp_path)
    )
    # The opening shows the background (the model has no inner mouth).
    gaps = [(ndimage.binary_fill_holes(face) & ~face)[-third - 10:].sum()
            for face in (_face(tiles["frontal"]), _face(tiles["mouth-open"]))]
    assert gaps[1] > gaps[0] + 40, f"mouth opening {gaps} pixels; " + _keep(grid, tmp_path)
