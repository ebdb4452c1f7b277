"""The bfm-lite face rendered by the rasterizer still looks like the committed reference pictures.

``tests/data/reference_faces.png`` (light and pose) and ``tests/data/reference_mesh.png`` (the
mesh: open mouths, ear, nostrils and neck, a checker texture, the uv maps) are made by
``scripts/make_reference_renders.py`` (see ``tests/data/README.md``); each grid is rendered once
here with the same function. Besides the pixel comparison, checks that a wrong picture cannot
pass run on the fresh render: face coverage, no background inside the face, the dark mouth
cavity, the lit side of side-lit tiles, symmetry, and where the open mouth changes the face. On
failure the fresh grid is written under the test's ``tmp_path`` (named in the message) to look at.
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
MESH_REFERENCE = REPO / "tests" / "data" / "reference_mesh.png"
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


def _keep(grid: np.ndarray, tmp_path: Path, reference: Path = REFERENCE) -> str:
    """Write the fresh grid for a developer to look at; the sentence for the assertion message."""
    path = write_image(tmp_path / f"{reference.stem}.new.png", grid)
    return f"fresh render written to {path}; compare it with {reference}"


@pytest.mark.parametrize("which", ["faces", "mesh"])
def test_render_matches_committed_reference(which, request, tmp_path):
    grid = request.getfixturevalue("grid" if which == "faces" else "mesh_grid")
    path, flag = (REFERENCE, "") if which == "faces" else (MESH_REFERENCE, "--mesh ")
    reference = read_image(path)
    assert reference.shape == grid.shape, _keep(grid, tmp_path, path)
    diff = np.abs(grid.astype(np.float64) - reference)
    mean, p99 = diff.mean(), np.percentile(diff, 99)
    assert mean <= MAX_MEAN_DIFF and p99 <= MAX_P99_DIFF, (
        f"render differs from the reference: mean |diff| {mean:.3f} (max {MAX_MEAN_DIFF}), "
        f"99th percentile {p99:.1f} (max {MAX_P99_DIFF}). If the change is intended, regenerate with "
        f"`.venv/bin/python scripts/make_reference_renders.py {flag}{path.relative_to(REPO)}`; "
        + _keep(grid, tmp_path, path)
    )


def test_face_covers_a_plausible_part_of_every_tile(grid, tmp_path):
    for name, image in _tiles(grid).items():
        face = _face(image)
        filled = ndimage.binary_fill_holes(face)
        holes = (filled & ~face).sum() / filled.sum()
        columns = np.nonzero(filled)[1]
        assert 0.4 <= face.mean() <= 0.65, f"{name}: face covers {face.mean():.2f}; " + _keep(grid, tmp_path)
        assert abs(columns.mean() - refs.TILE / 2) < 6, f"{name}: face off centre; " + _keep(grid, tmp_path)
        # The mesh has no holes and the mouth a cavity: no background inside the face.
        assert holes == 0, f"{name}: {holes:.3%} of the face shows background; " + _keep(grid, tmp_path)


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
    # The opening shows the dark mouth cavity.
    dark = [_dark(image)[-third - 10:].sum() for image in (tiles["frontal"], tiles["mouth-open"])]
    assert dark[1] > dark[0] + 20, f"dark mouth pixels {dark}; " + _keep(grid, tmp_path)


def _dark(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels inside the face (2 px from its outline) at less than half its median brightness."""
    luminance = image.mean(-1)
    inside = ndimage.binary_erosion(ndimage.binary_fill_holes(_face(image)), iterations=2)
    return inside & (luminance < 0.5 * np.median(luminance[inside]))


@pytest.fixture(scope="module")
def mesh_grid() -> np.ndarray:
    """(256, 512, 3) uint8 mesh grid rendered now."""
    return refs.render_mesh_grid()


def _mesh_tiles(grid: np.ndarray) -> dict[str, np.ndarray]:
    """Mesh tile name -> (128, 128, 3) float image; the last two are ``diffuse`` and ``uv-layout``."""
    t = refs.TILE
    stack = grid.reshape(2, t, refs.COLUMNS, t, 3).transpose(0, 2, 1, 3, 4).reshape(-1, t, t, 3)
    names = [tile.name for tile in refs.MESH_TILES] + ["diffuse", "uv-layout"]
    return {name: stack[i].astype(np.float64) for i, name in enumerate(names)}


def test_mesh_views_show_no_background_inside_the_face(mesh_grid, tmp_path):
    """Open mouth from the front and the side, the ear in profile, nostrils and neck from below,
    the checker views: the silhouette is filled (no holes in ears, nostrils, neck or mouth)."""
    keep = _keep(mesh_grid, tmp_path, MESH_REFERENCE)
    for name, image in list(_mesh_tiles(mesh_grid).items())[:-2]:
        face = _face(image)
        holes = (ndimage.binary_fill_holes(face) & ~face).sum()
        assert 0.3 < face.mean() < 0.65, f"{name}: face covers {face.mean():.2f}; " + keep
        assert holes == 0, f"{name}: {holes} background pixels inside the face; " + keep


def test_open_mouths_show_the_dark_cavity(mesh_grid, grid, tmp_path):
    keep = _keep(mesh_grid, tmp_path, MESH_REFERENCE)
    tiles = _mesh_tiles(mesh_grid)
    closed = _dark(_tiles(grid)["frontal"]).sum()
    for name in ("open-frontal", "open-yaw+35"):
        image = tiles[name]
        dark = _dark(image)
        rows = np.nonzero(dark)[0]
        assert dark.sum() > closed + 15, f"{name}: {dark.sum()} dark pixels (closed mouth: {closed}); " + keep
        assert refs.TILE * 0.5 < np.median(rows) < refs.TILE * 0.85, f"{name}: the dark pixels are not at the mouth; " + keep
    frontal = tiles["open-frontal"]
    assert np.abs(frontal - frontal[:, ::-1]).mean() < 3.0, "the open mouth should be left/right symmetric; " + keep


def test_uv_maps_are_symmetric_with_a_dark_mouth(mesh_grid, tmp_path):
    """The diffuse map is skin with the cavity's texels dark, on the symmetry axis; the uv layout
    (face region skin-coloured) mirrors onto itself under u -> 1 - u, as texture symmetry needs."""
    keep = _keep(mesh_grid, tmp_path, MESH_REFERENCE)
    tiles = _mesh_tiles(mesh_grid)
    for name in ("diffuse", "uv-layout"):
        image = tiles[name]
        assert np.abs(image - image[:, ::-1]).mean() < 1.0, f"{name} is not mirror-symmetric; " + keep
    dark = np.nonzero(tiles["diffuse"].mean(-1) < 0.5 * np.median(tiles["diffuse"].mean(-1)))
    assert len(dark[0]) >= 4 and np.abs(dark[1] + 0.5 - refs.TILE / 2).max() < 8, "cavity texels off the midline; " + keep
    region = tiles["uv-layout"][..., 0] > tiles["uv-layout"][..., 2] + 20  # skin-coloured texels
    assert 0.2 < region.mean() < 0.6, f"the face region fills {region.mean():.2f} of the map; " + keep
