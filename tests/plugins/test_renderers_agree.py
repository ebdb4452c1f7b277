"""The rasterizer and the Mitsuba path tracer render the same scenes alike.

Both implement the same image formation (same camera, textures, SH light, redner's BRDF); they
differ in that the path tracer is noisy and sees visibility (self-shadowing), which the
rasterizer ignores. PSNR = 10·log10(1 / MSE) over pixels both renderers cover fully, linear
radiance with peak 1. Measured on this machine (CPU, llvm_ad_rgb, seed 0), with the thresholds
asserted below:

- sphere, 64², 256 spp (no shadows on a convex surface): Lambert 60.2 dB (> 50), Cook-Torrance
  (ρs 0.25) 38.4 dB (> 34), mean bias < 0.07 % (< 0.5 %); what is left is Monte Carlo noise;
- bfm-lite face, 96², f = 375 px (1000 px at 256²), 16 spp: the path tracer is darker where the
  face shadows itself: median |diff| 0.027 (< 0.04) on a mean radiance of 0.48, mean darkening
  0.075 in boxes around the eyes and nostrils (from the landmarks) vs 0.020 elsewhere (3.8×,
  > 2.5×), no pixel brighter by more than 0.1 than the rasterizer's;
- gradients of an L1 photometric loss w.r.t. the SH light, 64², 16 spp: cosine similarity
  0.99995 on the sphere (> 0.99), 0.997 on the face (> 0.95; shadows change the gradient a little).
"""
from __future__ import annotations

import math

import pytest
import torch

from facerecon.api import cache_dir
from facerecon.errors import FaceReconError
from facerecon.geometry import apply_pose, vertex_normals
from facerecon.interfaces import BuildContext, Camera, Mesh, Scene, Textures
from facerecon.testing import scenes
from plugins.lighting import SHParams
from plugins.lighting.sh import SHLighting
from plugins.reflectance import CookTorranceParams, LambertianParams
from plugins.reflectance.cook_torrance import CookTorrance
from plugins.reflectance.lambertian import Lambertian
from plugins.renderers import MitsubaParams, RasterizerParams
from plugins.renderers.rasterizer import Rasterizer

CONTEXT = BuildContext(torch.device("cpu"), cache_dir(), build=None)
SH = SHLighting(SHParams(), CONTEXT)
REFLECTANCES = {
    "lambertian": Lambertian(LambertianParams(), CONTEXT),
    "cook-torrance": CookTorrance(CookTorranceParams(), CONTEXT),
}
RASTERIZER = Rasterizer(RasterizerParams(), CONTEXT)


def mitsuba(**params):
    from plugins.renderers.mitsuba_renderer import MitsubaRenderer

    try:
        return MitsubaRenderer(MitsubaParams(**params), CONTEXT)
    except FaceReconError as exc:
        pytest.skip(f"mitsuba cannot run here: {exc}")


def key_light() -> torch.Tensor:
    """(1, 9, 3) SH radiance, > 0.2 everywhere, brightest from above, right and the camera side."""
    light = SH.initial(1)
    light[0, 1:9] = torch.tensor([
        [-0.6, -0.5, -0.4], [-0.9, -0.8, -0.8], [0.5, 0.5, 0.6], [0.2, 0.1, 0.1],
        [-0.2, -0.2, -0.1], [0.3, 0.3, 0.3], [0.1, 0.2, 0.1], [0.2, 0.2, 0.2],
    ])
    assert SH.radiance(light, scenes.fibonacci_directions(2000)[None]).min() > 0.2
    return light


def covered(*outputs) -> torch.Tensor:
    """(B, H, W) pixels every output covers fully."""
    return torch.stack([o.mask == 1 for o in outputs]).all(0)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10.0 * math.log10(1.0 / (a - b).pow(2).mean().item())


def sphere_scene(reflectance, size: int = 64) -> Scene:
    """A finely tessellated sphere with a texture that varies along u and v, off-centre principal point."""
    t = 32
    rows = torch.linspace(0, 1, t)[:, None].expand(t, t)
    cols = torch.linspace(0, 1, t)[None].expand(t, t)
    textures = Textures(
        diffuse=torch.stack([0.3 + 0.4 * cols, 0.6 - 0.4 * rows, torch.full_like(rows, 0.35)], -1)[None],
        specular=torch.full((1, t, t, 3), 0.25),
        roughness=(0.3 + 0.3 * rows)[None, ..., None],
    )
    camera = Camera(torch.tensor([1.6 * size]), size, size, principal=torch.tensor([[0.45 * size, 0.55 * size]]))
    return Scene(scenes.sphere_mesh(1, n_lat=32, n_lon=64), camera, textures, key_light(), SH, reflectance)


@pytest.fixture(scope="module")
def face():
    """bfm-lite's mean face posed as NextFace initialises it: (mesh, textures, landmark vertex indices)."""
    from facerecon.api import build

    try:
        model = build("morphable_model", "bfm-lite")
    except (FaceReconError, FileNotFoundError) as exc:
        pytest.skip(f"bfm-lite cannot be built here: {exc}")
    shape = model.shape(torch.zeros(1, model.n_identity), torch.zeros(1, model.n_expression))
    vertices = apply_pose(shape, torch.tensor([scenes.INITIAL_ROTATION]), torch.tensor([scenes.INITIAL_TRANSLATION]))
    mesh = Mesh(vertices, model.faces, model.uvs, vertex_normals(vertices, model.faces))
    return mesh, model.textures(None, 1), model.landmarks


@pytest.mark.parametrize("name,threshold", [("lambertian", 50.0), ("cook-torrance", 34.0)])
def test_sphere_renders_agree(name, threshold):
    scene = sphere_scene(REFLECTANCES[name])
    traced = mitsuba(spp=256).render(scene)
    with torch.no_grad():
        raster = RASTERIZER.render(scene)
    hit = (traced.triangle_id >= 0) & (raster.triangle_id >= 0)
    assert (traced.triangle_id == raster.triangle_id)[hit].float().mean() > 0.995
    assert (traced.depth - raster.depth)[hit].abs().max() < 0.05
    assert (traced.normals - raster.normals)[hit].abs().max() < 1e-3
    assert (traced.uv - raster.uv)[hit].abs().max() < 1e-3
    assert abs(traced.mask.sum() - raster.mask.sum()) < 0.01 * raster.mask.sum()

    inside = covered(traced, raster)
    a, b = traced.image[inside], raster.image[inside]
    value = psnr(a, b)
    bias = ((a.mean(0) - b.mean(0)).abs() / b.mean(0)).max().item()
    assert value > threshold, f"{name}: PSNR {value:.2f} dB over covered pixels (expected > {threshold})"
    assert bias < 0.005, f"{name}: mean radiance differs by {100 * bias:.2f} %"


def test_face_differs_by_self_shadowing(face):
    mesh, textures, landmarks = face
    size = 96
    camera = Camera(torch.tensor([1000.0 * size / 256]), size, size)
    scene = Scene(mesh, camera, textures, key_light(), SH, REFLECTANCES["cook-torrance"])
    traced = mitsuba(spp=16).render(scene)
    with torch.no_grad():
        raster = RASTERIZER.render(scene)
    inside = covered(traced, raster)[0]
    darker = (raster.image - traced.image)[0].mean(-1)  # > 0 where the path tracer is darker

    points = camera.project(mesh.vertices[:, landmarks])[0]
    concave = torch.zeros(size, size, dtype=torch.bool)
    for group in (range(36, 42), range(42, 48), range(31, 36)):  # eyes, nostrils (iBUG-68)
        low = (points[list(group)].min(0).values - 0.03 * size).floor().clamp(min=0).long()
        high = (points[list(group)].max(0).values + 0.03 * size).ceil().long()
        concave[low[1]: high[1] + 1, low[0]: high[0] + 1] = True

    median = darker[inside].abs().median().item()
    in_concave = darker[inside & concave].mean().item()
    elsewhere = darker[inside & ~concave].mean().item()
    brighter = (darker[inside] < -0.1).float().mean().item()
    assert median < 0.04, f"median |diff| {median:.4f}"
    assert elsewhere > 0 and in_concave > 2.5 * elsewhere, (
        f"darkening around eyes/nostrils {in_concave:.4f} vs elsewhere {elsewhere:.4f}: expected shadows there"
    )
    assert brighter < 0.01, f"{100 * brighter:.1f} % of pixels are much brighter in the path tracer"


def _light_gradient(renderer, mesh, camera, textures, light, target) -> torch.Tensor:
    light = light.clone().requires_grad_()
    out = renderer.render(Scene(mesh, camera, textures, light, SH, REFLECTANCES["cook-torrance"]))
    inside = (out.mask.detach() == 1).float()
    loss = ((out.image - target).abs().mean(-1) * inside).sum() / inside.sum()
    loss.backward()
    return light.grad.flatten()


@pytest.mark.parametrize("shape,threshold", [("sphere", 0.99), ("face", 0.95)])
def test_light_gradients_agree(shape, threshold, request):
    size = 64
    if shape == "sphere":
        mesh, textures, focal = scenes.sphere_mesh(1, n_lat=32, n_lon=64), scenes.constant_textures(1, 16), 1.6 * size
    else:
        mesh, textures, _ = request.getfixturevalue("face")
        focal = 1000.0 * size / 256
    camera = Camera(torch.tensor([focal]), size, size)
    target_light = SH.initial(1) * 0.8
    target_light[0, 1:4] = torch.tensor([[-0.3, -0.2, -0.1], [-0.5, -0.6, -0.7], [0.2, 0.3, 0.3]])
    with torch.no_grad():
        target = RASTERIZER.render(Scene(mesh, camera, textures, target_light, SH, REFLECTANCES["cook-torrance"])).image
    start = SH.initial(1)
    start[0, 1:4] = torch.tensor([-0.6, -0.9, 0.5])[:, None]
    traced = _light_gradient(mitsuba(spp=16), mesh, camera, textures, start, target)
    raster = _light_gradient(RASTERIZER, mesh, camera, textures, start, target)
    cosine = torch.nn.functional.cosine_similarity(traced, raster, dim=0).item()
    assert cosine > threshold, f"{shape}: cosine similarity of the light gradients {cosine:.4f}"


def test_both_cull_back_faces_by_default():
    """A back-facing quad in front of a camera-facing one: both renderers see through it to the far quad
    (same triangle ids, lit pixels); with culling off the rasterizer shades it and the path tracer
    (one-sided BSDF) shows it black."""
    size, focal = 32, 40.0

    def quad(depth: float, towards_camera: bool, start: int):
        half = 0.3 * depth
        corners = torch.tensor([[-half, -half], [half, -half], [half, half], [-half, half]])
        vertices = torch.cat([corners, torch.full((4, 1), depth)], 1)
        faces = torch.tensor([[0, 2, 1], [0, 3, 2]]) if towards_camera else torch.tensor([[0, 1, 2], [0, 2, 3]])
        return vertices, faces + start

    far_v, far_f = quad(200.0, True, 0)
    near_v, near_f = quad(100.0, False, 4)
    vertices = torch.cat([far_v, near_v])[None]
    faces = torch.cat([far_f, near_f])
    uvs = torch.full((8, 2), 0.5)
    mesh = Mesh(vertices, faces, uvs, vertex_normals(vertices, faces))
    scene = Scene(mesh, Camera(torch.tensor([focal]), size, size), scenes.constant_textures(1, 4), SH.initial(1),
                  SH, REFLECTANCES["lambertian"])
    traced = mitsuba(spp=4).render(scene)
    with torch.no_grad():
        raster = RASTERIZER.render(scene)
    centre = (slice(None), slice(12, 20), slice(12, 20))
    assert (raster.triangle_id[centre] < 2).all() and (traced.triangle_id[centre] < 2).all()
    quads = lambda out: torch.div(out.triangle_id, 2, rounding_mode="floor")  # noqa: E731 (diagonals may differ)
    assert (quads(raster) == quads(traced)).float().mean() > 0.99
    assert raster.image[centre].min() > 0.05 and traced.image[centre].min() > 0.05
    with torch.no_grad():
        shaded = Rasterizer(RasterizerParams(cull_backfaces=False), CONTEXT).render(scene)
    black = mitsuba(spp=4, cull_backfaces=False).render(scene)
    assert (shaded.triangle_id[centre] >= 2).all() and (black.triangle_id[centre] >= 2).all()
    assert black.image[centre].max() == 0.0
