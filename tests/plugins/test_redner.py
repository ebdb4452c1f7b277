"""The ``redner`` renderer against the rasterizer: same frames, same light, same BRDF, same gradients.

Everything but the first two tests needs pyredner (built from source, see the README) and is
skipped, with the plugin's own explanation, where it is missing. PSNR thresholds were measured
on a 64² sphere under a random positive 3-band SH light (8 seeds each, sobol sampler):

    spp   lambertian PSNR      cook-torrance PSNR
    32    35.0 – 35.5 dB       33.0 – 33.4 dB
    256   44.8 dB              43.5 dB          (1024 spp: 50.5 / 50.0 dB, no bias floor)
"""
from __future__ import annotations

import math
import sys

import pytest
import torch

from facerecon.errors import FaceReconError
from facerecon.interfaces import BuildContext, Camera, Textures
from facerecon.registry import Registry
from facerecon.testing import scenes
from plugins import renderers as renderers_plugin
from plugins.lighting import SHParams
from plugins.lighting.sh import SHLighting
from plugins.reflectance import CookTorranceParams, LambertianParams
from plugins.reflectance.cook_torrance import CookTorrance
from plugins.reflectance.lambertian import Lambertian
from plugins.renderers import RasterizerParams, RednerParams
from plugins.renderers.rasterizer import Rasterizer
from plugins.renderers import redner_setup
from plugins.renderers.redner_renderer import Redner

CONTEXT = BuildContext(torch.device("cpu"), None, build=None)
SH = SHLighting(SHParams(), CONTEXT)
REFLECTANCES = {
    "lambertian": Lambertian(LambertianParams(), CONTEXT),
    "cook-torrance": CookTorrance(CookTorranceParams(), CONTEXT),
}
SIZE = 64


def redner(**params) -> Redner:
    """A redner renderer, or skip the test with the plugin's explanation."""
    try:
        return Redner(RednerParams(**params), CONTEXT)
    except FaceReconError as exc:
        pytest.skip(str(exc))


def rasterizer() -> Rasterizer:
    return Rasterizer(RasterizerParams(), CONTEXT)


def coloured_light(seed: int = 1) -> torch.Tensor:
    """(1, 9, 3) SH radiance varying along x, y and z, positive everywhere (redner clamps at 0)."""
    light = SH.initial(1) + 0.25 * torch.randn(1, 9, 3, generator=torch.Generator().manual_seed(seed))
    assert SH.radiance(light, scenes.fibonacci_directions(2000)[None]).min() > 0.1
    return light


def psnr_covered(image: torch.Tensor, reference, mask: torch.Tensor) -> float:
    """PSNR over pixels both renders cover fully, peak = the reference's brightest such pixel."""
    covered = (reference.mask > 0.999) & (mask > 0.999)
    mse = ((image - reference.image)[covered] ** 2).mean()
    return 10.0 * math.log10(reference.image[covered].max().item() ** 2 / mse.item())


def registry_with_renderers() -> Registry:
    registry = Registry()
    renderers_plugin.facerecon_register_components(registry)
    return registry


def test_registered():
    spec = registry_with_renderers().get("renderer", "redner")
    params = spec.params()
    assert spec.load() is Redner
    assert (params.spp, params.max_bounces) == (8, 1)
    assert not params.primary_edge_sampling and not params.secondary_edge_sampling


def test_missing_pyredner_is_a_clear_error(monkeypatch):
    """Without pyredner, the availability check and building the renderer both name the one command."""
    monkeypatch.setitem(sys.modules, "pyredner", None)  # makes `import pyredner` raise ImportError
    assert "'pyredner' is not installed" in redner_setup.missing()
    assert "`make redner REDNER_SRC=path/to/redner`" in redner_setup.missing()
    with pytest.raises(FaceReconError, match="make redner REDNER_SRC=path/to/redner"):
        Redner(RednerParams(), CONTEXT)


def test_availability_check_agrees_with_the_import():
    """`facerecon describe renderer redner` says available exactly when pyredner and redner import."""
    try:
        import pyredner  # noqa: F401
        import redner as redner_module  # noqa: F401
    except ImportError:
        assert "make redner REDNER_SRC=" in redner_setup.missing()
    else:
        assert redner_setup.missing() is None
    assert registry_with_renderers().get("renderer", "redner").unavailable() == redner_setup.missing()


def test_outputs_match_rasterizer_geometry():
    """A non-square image with an off-centre principal point: coverage, depth, normals, uv, ids agree."""
    scene = scenes.sphere_scene(SH, REFLECTANCES["lambertian"], image_size=48, width=64)
    scene.camera = Camera(scene.camera.focal, 64, 48, principal=torch.tensor([[27.0, 20.5]]))
    with torch.no_grad():
        out, ref = redner(spp=16).render(scene), rasterizer().render(scene)
    assert out.image.shape == (1, 48, 64, 3) and out.triangle_id.dtype == torch.long
    assert (out.mask - ref.mask).abs().sum() < 10, "silhouettes differ by more than ~10 pixels of coverage"
    inner = (out.mask > 0.999) & (ref.mask > 0.999)
    facing = inner & (ref.normals[..., 2] < -0.5)  # redner averages depth over the pixel: steep at the limb
    assert (out.depth - ref.depth)[facing].abs().max() < 2.0
    assert (out.normals - ref.normals)[inner].norm(dim=-1).max() < 0.05
    assert (out.uv - ref.uv)[inner].abs().max() < 0.02
    assert ((out.triangle_id >= 0) == (out.mask > 0)).all() and (out.triangle_id[out.mask == 0] == -1).all()
    assert (out.triangle_id == ref.triangle_id)[inner].float().mean() > 0.6  # the last sample's triangle
    assert (out.image[out.mask == 0] == 0).all(), "the environment map must not be directly visible"


def test_texture_orientation():
    """Quadrant-coloured maps land on the same pixels as in the rasterizer (u right, v up)."""
    t = 16
    rows, cols = torch.meshgrid(torch.arange(t), torch.arange(t), indexing="ij")
    colours = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9], [0.8, 0.8, 0.1]])
    diffuse = colours[(rows >= t // 2).long() * 2 + (cols >= t // 2).long()][None]
    scene = scenes.sphere_scene(SH, REFLECTANCES["lambertian"], image_size=SIZE)
    scene.textures = Textures(diffuse, torch.full((1, t, t, 3), 0.04), torch.full((1, t, t, 1), 0.4))
    with torch.no_grad():
        out, ref = redner(spp=8).render(scene), rasterizer().render(scene)
    inner = (out.mask > 0.999) & (ref.mask > 0.999)
    error = (out.extras["diffuse_albedo"] - ref.extras["diffuse_albedo"])[inner].abs().mean()
    assert error < 0.03, f"diffuse albedo differs by {error:.3f} on average"


@pytest.mark.parametrize(("reflectance", "spp", "threshold"), [
    ("lambertian", 32, 33.0), ("cook-torrance", 32, 31.0),
    ("lambertian", 256, 42.0), ("cook-torrance", 256, 41.0),
])
def test_matches_rasterizer_under_sh_light(reflectance, spp, threshold):
    """On the convex sphere (no shadows) the path tracer converges to the rasterizer's exact shading."""
    scene = scenes.sphere_scene(SH, REFLECTANCES[reflectance], image_size=SIZE, light=coloured_light())
    with torch.no_grad():
        out, ref = redner(spp=spp, seed=7).render(scene), rasterizer().render(scene)
    value = psnr_covered(out.image, ref, out.mask)
    assert value > threshold, f"{reflectance} at {spp} spp: PSNR {value:.2f} dB over covered pixels"


@pytest.mark.parametrize("reflectance", ["lambertian", "cook-torrance"])
def test_light_gradient_agrees_with_rasterizer(reflectance):
    """d(photometric loss)/d(SH coefficients) points the same way for both renderers (8 spp)."""
    target_scene = scenes.sphere_scene(SH, REFLECTANCES[reflectance], image_size=SIZE, light=coloured_light(seed=0))
    with torch.no_grad():
        target = rasterizer().render(target_scene).image
    grads = []
    for renderer in (rasterizer(), redner(spp=8)):
        scene = scenes.sphere_scene(SH, REFLECTANCES[reflectance], image_size=SIZE, requires_grad=True)
        ((renderer.render(scene).image - target) ** 2).mean().backward()
        grads.append(scene.light.grad.flatten())
        assert scene.mesh.vertices.grad.abs().sum() > 0 and scene.textures.diffuse.grad.abs().sum() > 0
    cosine = torch.nn.functional.cosine_similarity(*grads, dim=0).item()
    assert cosine > 0.97, f"cosine similarity of the light gradients {cosine:.3f}"
    assert 0.8 < (grads[1].norm() / grads[0].norm()).item() < 1.2


@pytest.mark.parametrize("edges", [False, True])
def test_camera_and_vertex_gradients_agree_with_rasterizer(edges):
    """Focal, principal point and vertex gradients: interior terms only without edge sampling (as
    the rasterizer without antialiasing), plus the silhouette terms with it (as the antialiased one)."""
    light = SH.initial(1)
    light[0, 3] = 1.0  # brighter towards +x
    weights = torch.linspace(0.0, 1.0, SIZE)[None, None, :]  # a loss that rewards moving right
    grads = []
    renderers = (Rasterizer(RasterizerParams(antialias=edges), CONTEXT), redner(spp=32, primary_edge_sampling=edges))
    for renderer in renderers:
        scene = scenes.sphere_scene(SH, REFLECTANCES["lambertian"], image_size=SIZE, light=light, requires_grad=True)
        focal, centre = scene.camera.focal.clone().requires_grad_(), torch.tensor([[33.0, 31.0]], requires_grad=True)
        scene.camera = Camera(focal, SIZE, SIZE, principal=centre)
        (renderer.render(scene).image.sum(-1) * weights).sum().backward()
        grads.append(torch.cat([focal.grad, centre.grad[0], scene.mesh.vertices.grad.sum((0, 1))]))
    cosine = torch.nn.functional.cosine_similarity(*grads, dim=0).item()
    assert cosine > 0.95, f"gradients differ: rasterizer {grads[0].tolist()}, redner {grads[1].tolist()}"
    assert 0.75 < (grads[1].norm() / grads[0].norm()).item() < 1.25


def test_seeds():
    """reseed draws new samples per call; without it the same scene renders the same image."""
    scene = scenes.sphere_scene(SH, REFLECTANCES["lambertian"], image_size=32, light=coloured_light())
    with torch.no_grad():
        fixed = redner(spp=4, reseed=False)
        assert torch.equal(fixed.render(scene).image, fixed.render(scene).image)
        fresh = redner(spp=4)
        assert not torch.equal(fresh.render(scene).image, fresh.render(scene).image)


def test_unsupported_reflectance_is_an_error():
    scene = scenes.sphere_scene(SH, _OtherBrdf(LambertianParams(), CONTEXT), image_size=16)
    with pytest.raises(FaceReconError, match="not 'other'"):
        redner().render(scene)


class _OtherBrdf(Lambertian):
    """A reflectance whose BRDF no path tracer knows."""

    brdf = "other"
