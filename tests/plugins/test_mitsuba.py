"""The ``mitsuba`` renderer on its own: building, outputs, noise, gradients, the libLLVM error.

Agreement with the rasterizer is tested in ``test_renderers_agree.py``; the renderer contract
suite runs over it in ``test_contracts.py``.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from facerecon.api import cache_dir
from facerecon.errors import FaceReconError
from facerecon.interfaces import BuildContext, Camera
from facerecon.testing import check_tensor, scenes
from plugins.lighting import SHParams
from plugins.lighting.sh import SHLighting
from plugins.reflectance import CookTorranceParams, LambertianParams
from plugins.reflectance.cook_torrance import CookTorrance
from plugins.reflectance.lambertian import Lambertian
from plugins.renderers import MitsubaParams

CONTEXT = BuildContext(torch.device("cpu"), cache_dir(), build=None)
SH = SHLighting(SHParams(), CONTEXT)
LAMBERT = Lambertian(LambertianParams(), CONTEXT)
COOK = CookTorrance(CookTorranceParams(), CONTEXT)
ROOT = Path(__file__).resolve().parents[2]


def mitsuba(**params):
    """A mitsuba renderer on the CPU, or a skip saying why it cannot run here."""
    from plugins.renderers.mitsuba_renderer import MitsubaRenderer

    try:
        return MitsubaRenderer(MitsubaParams(**params), CONTEXT)
    except FaceReconError as exc:
        pytest.skip(f"mitsuba cannot run here: {exc}")


def directional_light() -> torch.Tensor:
    """(1, 9, 3) SH radiance that is positive everywhere but brighter from above-left-front."""
    light = SH.initial(1)
    light[0, 1:4] = torch.tensor([[0.6, 0.5, 0.4], [-0.9, -0.8, -0.8], [0.5, 0.5, 0.6]])
    return light


def test_sphere_outputs():
    renderer = mitsuba(spp=4)
    scene = scenes.sphere_scene(SH, COOK, batch=2, image_size=32, width=40, shift=30.0)
    out = renderer.render(scene)
    for name, shape, dtype in (
        ("image", (2, 32, 40, 3), torch.float32), ("mask", (2, 32, 40), torch.float32),
        ("depth", (2, 32, 40), torch.float32), ("normals", (2, 32, 40, 3), torch.float32),
        ("uv", (2, 32, 40, 2), torch.float32), ("triangle_id", (2, 32, 40), torch.long),
    ):
        check_tensor(getattr(out, name), name, shape, dtype)
    hit = out.triangle_id >= 0
    assert hit[:, 16, 20].all() and not hit[:, 0, 0].any()
    assert (out.mask[hit & (out.mask > 0)] > 0).all() and ((out.mask >= 0) & (out.mask <= 1)).all()
    assert (out.image[~hit & (out.mask == 0)] == 0).all(), "empty pixels should be the (black) background"
    assert torch.allclose(out.normals[hit].norm(dim=-1), torch.ones(()), atol=1e-4)
    assert (out.depth[hit] > 400).all() and (out.depth[hit] < 500).all()
    assert (out.mask[1].sum() - out.mask[0].sum()).abs() < 0.05 * out.mask[0].sum()
    assert not torch.equal(out.mask[0], out.mask[1]), "item 1 was shifted but renders like item 0"


def test_background_fills_empty_pixels():
    out = mitsuba(spp=2, background=(0.1, 0.2, 0.3)).render(scenes.sphere_scene(SH, LAMBERT, image_size=16))
    assert torch.allclose(out.image[0, 0, 0], torch.tensor([0.1, 0.2, 0.3]))


def _bsdf(lambertian: bool, diffuse, specular, roughness):
    """The renderer's Mitsuba BSDF with constant (1×1) maps, and the mitsuba/drjit modules."""
    from plugins.renderers.mitsuba_bsdf import PLUGIN_NAME, register_bsdf
    from plugins.renderers.mitsuba_env import load_mitsuba
    from plugins.renderers.mitsuba_scene import bitmap_dict

    mitsuba(spp=1)  # skips when Mitsuba cannot run here
    backend = load_mitsuba("cpu")
    mi, dr = backend.mi, backend.dr
    register_bsdf(mi, dr)
    bsdf = mi.load_dict({
        "type": PLUGIN_NAME, "lambertian": lambertian, "min_roughness": 1e-3,
        "diffuse": bitmap_dict(mi, torch.tensor(diffuse).view(1, 1, 3)),
        "specular": bitmap_dict(mi, torch.tensor(specular).view(1, 1, 3)),
        "roughness": bitmap_dict(mi, torch.tensor([roughness]).view(1, 1, 1)),
    })
    return bsdf, mi, dr


def _host(value) -> torch.Tensor:
    """A torch copy of a Dr.Jit array, (N,) or (N, C) (``value`` stays referenced while it is read)."""
    array = torch.tensor(np.array(value))
    return array.T if array.dim() == 2 else array


def _device_vectors(mi, vectors: torch.Tensor):
    return mi.Vector3f(vectors.T.contiguous().numpy())


@pytest.mark.parametrize("reflectance", [LAMBERT, COOK], ids=["lambertian", "cook-torrance"])
def test_bsdf_is_the_reflectance(reflectance):
    """The Dr.Jit BSDF equals the torch reflectance's evaluate() and samples consistently with its pdf."""
    diffuse, specular, roughness = [0.6, 0.45, 0.35], [0.3, 0.2, 0.1], 0.25
    bsdf, mi, dr = _bsdf(reflectance is LAMBERT, diffuse, specular, roughness)
    gen = torch.Generator().manual_seed(0)
    n = 4096
    view = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen), dim=-1)
    light = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen), dim=-1)
    view[:, 2] = view[:, 2].abs()  # the BSDF is one-sided: viewers above the surface
    si = dr.zeros(mi.SurfaceInteraction3f, n)
    si.wi = _device_vectors(mi, view)
    ctx = mi.BSDFContext()
    value, _ = bsdf.eval_pdf(ctx, si, _device_vectors(mi, light))
    normal = torch.tensor([0.0, 0.0, 1.0]).expand(n, 3)
    expected = reflectance.evaluate(normal, light, view, torch.tensor(diffuse).expand(n, 3),
                                    torch.tensor(specular).expand(n, 3), torch.full((n, 1), roughness))
    error = (_host(value) - expected).abs().max()
    assert torch.allclose(_host(value), expected, rtol=1e-4, atol=1e-6), f"max difference {error:.3g}"

    uniforms = torch.rand(n, 3, generator=gen)
    sample, weight = bsdf.sample(ctx, si, mi.Float(uniforms[:, 0].numpy()),
                                 mi.Point2f(uniforms[:, 1:].T.contiguous().numpy()))
    wo, sample_pdf = sample.wo, sample.pdf
    value, pdf = bsdf.eval_pdf(ctx, si, wo)
    ok = _host(sample_pdf) > 0
    assert ok.float().mean() > 0.9, "most samples should be valid (specular ones may leave the hemisphere)"
    assert torch.allclose(_host(sample_pdf)[ok], _host(pdf)[ok], rtol=1e-4)
    ratio = _host(value)[ok] / _host(pdf)[ok, None]
    assert torch.allclose(_host(weight)[ok], ratio, rtol=1e-3, atol=1e-6), "sample() weight != eval / pdf"
    # The pdf integrates over the hemisphere to the fraction of samples that stay above it.
    many = 200_000
    uniform = torch.nn.functional.normalize(torch.randn(many, 3, generator=gen), dim=-1)
    uniform[:, 2] = uniform[:, 2].abs()
    si_many = dr.zeros(mi.SurfaceInteraction3f, many)
    si_many.wi = mi.Vector3f(0.6, 0.0, 0.8)
    total = 2 * math.pi * _host(bsdf.pdf(ctx, si_many, _device_vectors(mi, uniform))).mean().item()
    uniforms = torch.rand(many, 3, generator=gen)
    valid_sample, _ = bsdf.sample(ctx, si_many, mi.Float(uniforms[:, 0].numpy()),
                                  mi.Point2f(uniforms[:, 1:].T.contiguous().numpy()))
    valid_pdf = valid_sample.pdf
    valid = (_host(valid_pdf) > 0).float().mean().item()
    assert abs(total - valid) < 0.01, f"pdf integrates to {total:.4f}, {valid:.4f} of the samples are valid"


def test_noise_decreases_with_spp():
    """Two renders differ only by their seed; their difference shrinks as spp grows."""
    scene = scenes.sphere_scene(SH, COOK, image_size=32, light=directional_light())
    spread = {}
    for spp in (2, 32):
        renderer = mitsuba(spp=spp)
        first, second = renderer.render(scene), renderer.render(scene)
        covered = (first.mask == 1) & (second.mask == 1)
        spread[spp] = (first.image - second.image)[covered].abs().mean().item()
    assert spread[2] > 0, "consecutive renders should use different seeds"
    assert spread[32] < 0.35 * spread[2], f"noise did not drop with spp: {spread}"


def test_gradients_light_and_textures():
    """Finite, non-zero gradients w.r.t. light and all maps; Lambert renders are linear in light and albedo.

    For a light that is positive everywhere, image(light) and image(albedo) are linear, so
    Σ grad·x equals the loss Σ w·image: this checks the gradient's scale, not just its sign.
    """
    renderer = mitsuba(spp=16)
    weights = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(0))
    for reflectance in (LAMBERT, COOK):
        scene = scenes.sphere_scene(SH, reflectance, image_size=32, light=directional_light(), requires_grad=True)
        loss = (renderer.render(scene).image * weights).sum()
        loss.backward()
        leaves = {"light": scene.light, "diffuse": scene.textures.diffuse, "specular": scene.textures.specular,
                  "roughness": scene.textures.roughness, "vertices": scene.mesh.vertices}
        wanted = ("light", "diffuse", "vertices") + (("specular", "roughness") if reflectance is COOK else ())
        for name in wanted:
            grad = leaves[name].grad
            assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, f"no gradient for {name}"
        if reflectance is LAMBERT:
            for name in ("light", "diffuse"):
                euler = (leaves[name].grad * leaves[name].detach()).sum().item()
                assert abs(euler - loss.item()) < 0.05 * loss.item(), (
                    f"{name}: Σ grad·x {euler:.4g} vs loss {loss.item():.4g}"
                )


def test_backward_replays_its_own_scene():
    """A render's gradient is unchanged when another render (other light, maps, vertices) runs before backward."""
    renderer = mitsuba(spp=16)
    weights = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(1))
    first = scenes.sphere_scene(SH, LAMBERT, image_size=32, light=directional_light(), requires_grad=True)
    loss = (renderer.render(first).image * weights).sum()
    other = scenes.sphere_scene(SH, LAMBERT, image_size=32, light=3.0 * SH.initial(1), shift=20.0, requires_grad=True)
    with torch.no_grad():
        other.textures.diffuse.mul_(0.2)
    (renderer.render(other).image * weights).sum().backward()
    loss.backward()
    euler = (first.light.grad * first.light.detach()).sum().item()
    assert abs(euler - loss.item()) < 0.05 * loss.item(), f"Σ grad·light {euler:.4g} vs loss {loss.item():.4g}"


def test_principal_point_and_uv_convention():
    """An off-centre principal point moves the sphere; the front of the sphere has uv (0.5, 0.5)."""
    renderer = mitsuba(spp=1)
    scene = scenes.sphere_scene(SH, LAMBERT, image_size=32)
    scene.camera = Camera(scene.camera.focal, 32, 32, principal=torch.tensor([[12.0, 20.0]]))
    out = renderer.render(scene)
    hit = out.triangle_id[0] >= 0
    ys, xs = hit.nonzero(as_tuple=True)
    assert abs(xs.float().mean().item() + 0.5 - 12.0) < 0.5 and abs(ys.float().mean().item() + 0.5 - 20.0) < 0.5
    assert torch.allclose(out.uv[0, 19:21, 11:13].mean((0, 1)), torch.tensor([0.5, 0.5]), atol=0.03)
    assert (out.uv[0, 14, 12, 1] > out.uv[0, 26, 12, 1]).item(), "v grows upwards (towards image row 0)"


def test_rejects_unsupported_inputs():
    renderer = mitsuba(spp=1, integrator="path")
    scene = scenes.sphere_scene(SH, LAMBERT, image_size=8, requires_grad=True)
    with pytest.raises(FaceReconError, match="without gradients"):
        renderer.render(scene)
    scene = scenes.sphere_scene(SH, _OtherBrdf(LambertianParams(), CONTEXT), image_size=8)
    with pytest.raises(FaceReconError, match="not 'other'"):
        mitsuba(spp=1).render(scene)
    from facerecon.api import build

    with pytest.raises(FaceReconError, match="renderer.spp: must be >= 1, got 0"):
        build("renderer", "mitsuba", spp=0)


def _load_in_subprocess(libllvm: str) -> subprocess.CompletedProcess:
    code = (
        "from facerecon.errors import FaceReconError\n"
        "from plugins.renderers.mitsuba_env import load_mitsuba\n"
        "try:\n    load_mitsuba('cpu')\nexcept FaceReconError as exc:\n    print(exc)\n    raise SystemExit(3)\n"
    )
    env = {**os.environ, "DRJIT_LIBLLVM_PATH": libllvm}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_missing_libllvm_says_what_to_install():
    result = _load_in_subprocess("/nonexistent/libLLVM-19.so")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "DRJIT_LIBLLVM_PATH=/nonexistent/libLLVM-19.so" in result.stdout
    assert "apt-get install libllvm19" in result.stdout and "shared libLLVM" in result.stdout


def test_old_libllvm_is_refused():
    old = next((p for p in ("/usr/lib/x86_64-linux-gnu/libLLVM-15.so", "/usr/lib/x86_64-linux-gnu/libLLVM-14.so")
                if os.path.exists(p)), None)
    if old is None:
        pytest.skip("no LLVM 14/15 library here to try")
    result = _load_in_subprocess(old)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "needs LLVM >= 16" in result.stdout and "apt-get install libllvm19" in result.stdout


def test_finds_a_recent_libllvm():
    from plugins.renderers.mitsuba_env import MIN_LLVM, _major, find_libllvm

    found = find_libllvm()
    if found is None:
        pytest.skip("no libLLVM >= 16 installed")
    assert _major(found) >= MIN_LLVM and os.path.isfile(found)
    assert _major("/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1") == 19
    assert _major("/usr/lib/llvm-17/lib/libLLVM-17.so") == 17
    assert _major("/usr/lib/libLLVM.so") == 0


class _OtherBrdf(Lambertian):
    """A reflectance whose BRDF no path tracer knows."""

    brdf = "other"
