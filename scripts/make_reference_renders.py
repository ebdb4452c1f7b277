"""Render the reference pictures of the bfm-lite face that ``tests/plugins/test_reference_renders.py`` checks.

Usage::

    .venv/bin/python scripts/make_reference_renders.py tests/data/reference_faces.png
    .venv/bin/python scripts/make_reference_renders.py --mesh tests/data/reference_mesh.png

The second picture (:func:`render_mesh_grid`) shows the mesh itself: open mouths, the ear in
profile, the nostrils and neck edge from below, a checker texture on the face (stretch in the UV
layout shows as stretched squares) and the model's UV maps.

The picture is a 2 × 4 grid of 128 × 128 tiles (256 × 512 pixels, sRGB), listed in :data:`TILES`:
the bfm-lite mean face (mean identity, skin maps of the model) rendered by the ``rasterizer`` with
``cook-torrance`` reflectance under 3-band ``sh`` light. Lights are a white ambient term plus a
clamped-cosine key lobe max(d·ω, 0) around a direction d in the OpenCV camera frame (x right,
y down, +z forward, d pointing from the face towards the light): "left" means the left of the
image. Poses start from NextFace's (π, 0, 0), 500 mm; yaw +30° turns the nose towards the image
left. Everything is deterministic (no random numbers).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from facerecon.api import build  # noqa: E402
from facerecon.geometry import apply_pose, vertex_normals  # noqa: E402
from facerecon.imaging import linear_to_srgb, to_uint8, write_image  # noqa: E402
from facerecon.interfaces import Camera, Mesh, Scene  # noqa: E402
from plugins.lighting.sh import lambert_kernel, sh_basis  # noqa: E402

__all__ = ["TILE", "COLUMNS", "FOCAL", "Tile", "TILES", "MESH_TILES", "CHECKER_TEXELS", "tile_index", "sh_light",
           "render_reference_grid", "render_mesh_grid", "main"]

#: Side of one tile in pixels.
TILE = 128
#: Tiles per row of the grid.
COLUMNS = 4
#: Focal length in pixels at 128² (520 px at 256²): the whole mesh, forehead to chin, fits the tile.
FOCAL = 260.0
#: Camera distance in mm (NextFace's initial translation).
DISTANCE = 500.0
#: Camera-frame y translation in mm that centres the mesh (its origin is at ear level; it reaches
#: 70 mm above and 140 mm below, down the neck): negative moves the face up in the image.
LIFT = -25.0
#: Expression coefficients (std devs) of the "open mouth" tile: component 0 opens the jaw
#: (the inner-lip gap grows by 5.5 mm per -1), component 1 widens the mouth (+4.2 mm per +1).
OPEN_MOUTH = (-2.0, 1.0)


@dataclass(frozen=True)
class Tile:
    """One render of the grid.

    Attributes:
        name: short label (the tests look tiles up by it).
        rotation: Euler angles in degrees added to NextFace's (180, 0, 0): (pitch, yaw, roll).
        key: direction towards the key light in the camera frame (normalised when used).
        key_colour: linear RGB radiance scale of the key lobe.
        ambient: linear RGB constant radiance.
        fill: optional (direction, colour) of a second lobe.
        mouth_open: use :data:`OPEN_MOUTH` instead of the neutral expression.
    """

    name: str
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    key: tuple[float, float, float] = (0.0, 0.0, -1.0)
    key_colour: tuple[float, float, float] = (1.6, 1.6, 1.6)
    ambient: tuple[float, float, float] = (0.35, 0.35, 0.35)
    fill: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    mouth_open: bool = False


#: The tiles, row by row.
TILES = (
    Tile("frontal"),
    Tile("light-left", key=(-1.0, 0.0, -0.25), ambient=(0.15, 0.15, 0.15), key_colour=(2.2, 2.2, 2.2)),
    Tile("light-right-coloured", key=(1.0, -0.2, -0.35), key_colour=(2.2, 1.4, 0.6), ambient=(0.1, 0.1, 0.1),
         fill=((-1.0, 0.0, -0.5), (0.2, 0.45, 0.9))),
    Tile("light-above", key=(0.0, -1.0, -0.3), ambient=(0.15, 0.15, 0.15), key_colour=(2.2, 2.2, 2.2)),
    Tile("mouth-open", mouth_open=True),
    Tile("yaw+30", rotation=(0.0, 30.0, 0.0)),
    Tile("yaw-30", rotation=(0.0, -30.0, 0.0)),
    Tile("pitch-10", rotation=(-10.0, 0.0, 0.0)),
)


#: The rendered tiles of the mesh picture (after them: the diffuse map and the uv layout map).
MESH_TILES = (
    Tile("open-frontal", mouth_open=True),
    Tile("open-yaw+35", rotation=(0.0, 35.0, 0.0), mouth_open=True),
    Tile("profile-ear", rotation=(0.0, -90.0, 0.0)),
    Tile("below", rotation=(-45.0, 0.0, 0.0)),
    Tile("checker-frontal"),
    Tile("checker-yaw-60", rotation=(0.0, -60.0, 0.0)),
)
#: Side of one checker square in texels of the 256-texel map.
CHECKER_TEXELS = 8


def tile_index(name: str) -> int:
    """Position of the tile called ``name`` in :data:`TILES`."""
    return [tile.name for tile in TILES].index(name)


def sh_light(tile: Tile, bands: int = 3) -> torch.Tensor:
    """(K, 3) SH radiance coefficients of ``tile``'s light: ambient + clamped-cosine lobes.

    The SH projection of max(d·ω, 0) is Â_l·Y_lm(d) (Funk–Hecke), truncated to ``bands`` bands.
    """
    kernel = torch.tensor(lambert_kernel(bands), dtype=torch.float64)
    light = torch.zeros(bands * bands, 3, dtype=torch.float64)
    light[0] = torch.tensor(tile.ambient, dtype=torch.float64) * math.sqrt(4.0 * math.pi)
    lobes = [(tile.key, tile.key_colour)] + ([tile.fill] if tile.fill else [])
    for direction, colour in lobes:
        d = torch.nn.functional.normalize(torch.tensor(direction, dtype=torch.float64), dim=0)
        light += (kernel * sh_basis(d, bands))[:, None] * torch.tensor(colour, dtype=torch.float64)
    return light.float()


def _scenes(model, lighting, reflectance, tiles=TILES, textures=None) -> Scene:
    """``tiles`` as one batch of scenes (with the model's maps unless ``textures`` are given)."""
    batch = len(tiles)
    identity = torch.zeros(batch, model.n_identity)
    expression = torch.zeros(batch, model.n_expression)
    for b, tile in enumerate(tiles):
        if tile.mouth_open:
            expression[b, : len(OPEN_MOUTH)] = torch.tensor(OPEN_MOUTH)
    angles = torch.tensor([tile.rotation for tile in tiles])
    rotation = torch.deg2rad(angles) + torch.tensor([math.pi, 0.0, 0.0])
    translation = torch.tensor([0.0, LIFT, DISTANCE]).expand(batch, 3)
    vertices = apply_pose(model.shape(identity, expression), rotation, translation)
    faces = model.faces
    mesh = Mesh(vertices=vertices, faces=faces, uvs=model.uvs, normals=vertex_normals(vertices, faces))
    camera = Camera(focal=torch.full((batch,), FOCAL), width=TILE, height=TILE)
    light = torch.stack([sh_light(tile, lighting.bands) for tile in tiles])
    return Scene(mesh=mesh, camera=camera, textures=textures or model.textures(None, batch), light=light,
                 lighting=lighting, reflectance=reflectance)


def render_reference_grid() -> np.ndarray:
    """Render every tile of :data:`TILES` and lay them out row by row.

    The rasterizer keeps its defaults (antialiased, back faces culled).

    Returns:
        (2·128, 4·128, 3) uint8 sRGB grid.
    """
    model = build("morphable_model", "bfm-lite")
    lighting = build("lighting", "sh", bands=3)
    reflectance = build("reflectance", "cook-torrance")
    renderer = build("renderer", "rasterizer")
    with torch.no_grad():
        image = renderer.render(_scenes(model, lighting, reflectance)).image
    return _grid(to_uint8(linear_to_srgb(image.clamp(0.0, 1.0)).numpy()))


def _grid(tiles: np.ndarray) -> np.ndarray:
    """(B, TILE, TILE, 3) tiles laid out row by row, :data:`COLUMNS` to a row."""
    rows = len(tiles) // COLUMNS
    grid = tiles.reshape(rows, COLUMNS, TILE, TILE, 3).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(grid.reshape(rows * TILE, COLUMNS * TILE, 3))


def _checker(model, batch: int):
    """The model's maps with a grey/cream checker of :data:`CHECKER_TEXELS`-texel squares as diffuse."""
    textures = model.textures(None, batch)
    t = model.texture_size
    index = torch.arange(t) // CHECKER_TEXELS
    squares = ((index[:, None] + index[None, :]) % 2).float()[..., None]
    diffuse = 0.12 + squares * torch.tensor([0.55, 0.45, 0.35])
    return type(textures)(diffuse.expand(batch, t, t, 3).contiguous(), textures.specular, textures.roughness)


def _uv_layout(model) -> np.ndarray:
    """(TILE, TILE, 3) linear map of the uv layout: face region skin-coloured, the rest grey, the cavity dark."""
    t = model.texture_size
    inside = model.texel_mask.float()
    grey = torch.tensor([0.18, 0.18, 0.2])
    skin = torch.tensor(model.params.skin_diffuse)
    colour = grey + inside[:, None] * (skin - grey)
    colour = colour + model.texel_cavity[:, None] * (torch.tensor(model.params.mouth_diffuse) - colour)
    return colour.reshape(t, t, 3)


def render_mesh_grid() -> np.ndarray:
    """The mesh picture: :data:`MESH_TILES` rendered, then the model's diffuse map and its uv layout.

    Same camera, light and renderer defaults as :func:`render_reference_grid`; the bfm-lite model
    at ``texture_size`` 128 so the maps fill a tile texel for pixel. The checker tiles replace
    the diffuse map by a checker (:data:`CHECKER_TEXELS` texels, 4 at 128), the others keep the
    model's maps (skin, dark mouth cavity).

    Returns:
        (2·128, 4·128, 3) uint8 sRGB grid.
    """
    model = build("morphable_model", "bfm-lite", texture_size=TILE)
    lighting = build("lighting", "sh", bands=3)
    reflectance = build("reflectance", "cook-torrance")
    renderer = build("renderer", "rasterizer")
    plain = [tile for tile in MESH_TILES if not tile.name.startswith("checker")]
    checker = [tile for tile in MESH_TILES if tile.name.startswith("checker")]
    with torch.no_grad():
        images = [renderer.render(_scenes(model, lighting, reflectance, plain)).image,
                  renderer.render(_scenes(model, lighting, reflectance, checker,
                                          _checker(model, len(checker)))).image,
                  model.textures(None, 1).diffuse, _uv_layout(model)[None]]
    tiles = torch.cat([image.clamp(0.0, 1.0) for image in images])
    return _grid(to_uint8(linear_to_srgb(tiles).numpy()))


def main(argv: list[str] | None = None) -> int:
    """Write the faces grid, or with ``--mesh`` the mesh grid, to the path given on the command line."""
    args = sys.argv[1:] if argv is None else argv
    mesh = args[:1] == ["--mesh"]
    args = args[1:] if mesh else args
    if len(args) != 1:
        print("usage: make_reference_renders.py [--mesh] OUTPUT.png", file=sys.stderr)
        return 2
    path = write_image(args[0], render_mesh_grid() if mesh else render_reference_grid())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
