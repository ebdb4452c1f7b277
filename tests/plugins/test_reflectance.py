"""``lambertian`` and ``cook-torrance``: redner's formula, gradients, energy, shading integrals."""
from __future__ import annotations

import math

import pytest
import torch

from facerecon.interfaces import BuildContext
from facerecon.registry import Registry
from plugins import reflectance as reflectance_plugin
from plugins.lighting import SHParams
from plugins.lighting.sh import SHLighting
from plugins.reflectance import CookTorranceParams, LambertianParams
from plugins.reflectance.cook_torrance import CookTorrance
from plugins.reflectance.lambertian import Lambertian

CONTEXT = BuildContext(torch.device("cpu"), None, build=None)
DOUBLE = torch.float64


def cook_torrance(**params) -> CookTorrance:
    return CookTorrance(CookTorranceParams(**params), CONTEXT)


def lambertian() -> Lambertian:
    return Lambertian(LambertianParams(), CONTEXT)


def sh(bands: int = 3) -> SHLighting:
    return SHLighting(SHParams(bands=bands), CONTEXT)


def unit(*shape, gen) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(*shape, 3, generator=gen, dtype=DOUBLE), dim=-1)


def above(normal: torch.Tensor, gen, min_cos: float = 0.15) -> torch.Tensor:
    """Random unit directions with n·d ≥ min_cos (away from the horizon)."""
    d = unit(*normal.shape[:-1], gen=gen)
    d = torch.where((d * normal).sum(-1, keepdim=True) < 0, -d, d)
    return torch.nn.functional.normalize(d + (min_cos * 1.5) * normal, dim=-1)


def redner_bsdf(n, wi_view, wo_light, kd, ks, r) -> list[float]:
    """Scalar transcription of redner ``bsdf()`` (src/material.h, one-sided, no normal map)."""
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    shading_wi, shading_wo = abs(dot(n, wi_view)), abs(dot(n, wo_light))
    diffuse = [k * shading_wo / math.pi for k in kd]
    h = [a + b for a, b in zip(wi_view, wo_light)]
    m = [v / math.sqrt(dot(h, h)) for v in h]
    exponent = max(2.0 / r - 2.0, 0.0)
    d = max(dot(m, n), 0.0) ** exponent * (exponent + 2.0) / (2 * math.pi)

    def smith_g1(v):
        cos_theta = dot(v, n)
        tan_theta = math.sqrt(max(1.0 / (cos_theta * cos_theta) - 1.0, 0.0))
        if tan_theta == 0.0:
            return 1.0
        a = 1.0 / (math.sqrt(r) * tan_theta)
        if a >= 1.6:
            return 1.0
        return (3.535 * a + 2.181 * a * a) / (1.0 + 2.276 * a + 2.577 * a * a)

    g = smith_g1(wi_view) * smith_g1(wo_light)
    cos_theta_d = abs(dot(m, wo_light))
    f = [s + (1.0 - s) * max(1.0 - cos_theta_d, 0.0) ** 5 for s in ks]
    return [dc + fc * d * g / (4.0 * shading_wi) for dc, fc in zip(diffuse, f)]


def test_registered():
    registry = Registry()
    reflectance_plugin.facerecon_register_components(registry)
    assert registry.get("reflectance", "cook-torrance").load() is CookTorrance
    assert registry.get("reflectance", "lambertian").load() is Lambertian
    assert registry.get("reflectance", "cook-torrance").params().roughness == 0.4


def test_cook_torrance_matches_redner_transcription():
    gen = torch.Generator().manual_seed(0)
    n = unit(200, gen=gen)
    wi, wo = above(n, gen), above(n, gen)
    kd = torch.rand(200, 3, generator=gen, dtype=DOUBLE)
    ks = torch.rand(200, 3, generator=gen, dtype=DOUBLE) * 0.3
    r = torch.rand(200, 1, generator=gen, dtype=DOUBLE) * 0.9 + 0.05
    ours = cook_torrance().evaluate(n, wi, wo, kd, ks, r)
    theirs = torch.tensor([redner_bsdf(n[i].tolist(), wo[i].tolist(), wi[i].tolist(), kd[i].tolist(),
                                       ks[i].tolist(), float(r[i])) for i in range(200)], dtype=DOUBLE)
    assert torch.allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_lambertian_evaluate():
    gen = torch.Generator().manual_seed(1)
    n = unit(50, gen=gen)
    wi, wo = unit(50, gen=gen), above(n, gen)
    kd = torch.rand(50, 3, generator=gen, dtype=DOUBLE)
    value = lambertian().evaluate(n, wi, wo, kd, torch.zeros_like(kd), torch.ones(50, 1, dtype=DOUBLE))
    assert torch.allclose(value, kd * (n * wi).sum(-1, keepdim=True).clamp(min=0) / math.pi)


def test_specular_reciprocity():
    gen = torch.Generator().manual_seed(2)
    n = unit(100, gen=gen)
    a, b = above(n, gen), above(n, gen)
    ks = torch.rand(100, 3, generator=gen, dtype=DOUBLE)
    r = torch.rand(100, 1, generator=gen, dtype=DOUBLE) * 0.9 + 0.05
    ct = cook_torrance()
    assert torch.allclose(ct.specular_lobe(n, a, b, ks, r), ct.specular_lobe(n, b, a, ks, r), rtol=1e-12)


@pytest.mark.parametrize("component", [cook_torrance, lambertian])
def test_gradcheck_evaluate(component):
    gen = torch.Generator().manual_seed(3)
    n = unit(6, gen=gen)
    wi, wo = above(n, gen), above(n, gen)
    kd = torch.rand(6, 3, generator=gen, dtype=DOUBLE)
    ks = torch.rand(6, 3, generator=gen, dtype=DOUBLE) * 0.5
    r = torch.rand(6, 1, generator=gen, dtype=DOUBLE) * 0.6 + 0.2
    inputs = tuple(t.clone().requires_grad_() for t in (n, wi, wo, kd, ks, r))
    assert torch.autograd.gradcheck(component().evaluate, inputs)


@pytest.mark.parametrize("component,bands", [(cook_torrance, 3), (cook_torrance, 4), (lambertian, 3)])
def test_gradcheck_shade(component, bands):
    """shade() is differentiable in normal, wo, maps, roughness and light (bands 4: sampled path)."""
    gen = torch.Generator().manual_seed(4)
    lighting = sh(bands)
    n = unit(1, 5, gen=gen)
    wo = above(n, gen, min_cos=0.3)
    kd = torch.rand(1, 5, 3, generator=gen, dtype=DOUBLE)
    ks = torch.rand(1, 5, 3, generator=gen, dtype=DOUBLE) * 0.5
    r = torch.rand(1, 5, 1, generator=gen, dtype=DOUBLE) * 0.6 + 0.2
    light = torch.randn(1, bands * bands, 3, generator=gen, dtype=DOUBLE)
    model = component()

    def radiance(light, n, wo, kd, ks, r):
        return model.shade(lighting, light, n, wo, kd, ks, r)["radiance"]

    inputs = tuple(t.clone().requires_grad_() for t in (light, n, wo, kd, ks, r))
    assert torch.autograd.gradcheck(radiance, inputs, atol=1e-5, rtol=1e-3)


def hemisphere_grid(n_theta: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Midpoint grid over the upper hemisphere (z > 0) with solid-angle weights."""
    theta = (torch.arange(n_theta, dtype=DOUBLE) + 0.5) * (math.pi / 2) / n_theta
    phi = (torch.arange(4 * n_theta, dtype=DOUBLE) + 0.5) * (math.pi / 2) / n_theta
    theta, phi = torch.meshgrid(theta, phi, indexing="ij")
    dirs = torch.stack([theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos()], -1).reshape(-1, 3)
    return dirs, (theta.sin() * ((math.pi / 2) / n_theta) ** 2).reshape(-1, 1)


def test_white_furnace():
    """∫ f·cos dwi: Lambert with ρd = 1 gives 1; the specular lobe with ρs = 1 stays ≤ 1 up to 75°.

    (1e-3 is the grid's error: at normal incidence and low roughness the lobe reflects ~all energy.)
    """
    dirs, weights = hemisphere_grid(150)
    count = dirs.shape[0]
    n = torch.tensor([0.0, 0.0, 1.0], dtype=DOUBLE).expand(count, 3)
    ones, zeros = torch.ones(count, 3, dtype=DOUBLE), torch.zeros(count, 3, dtype=DOUBLE)
    for view in (0.0, 30.0, 60.0, 75.0):
        a = math.radians(view)
        wo = torch.tensor([math.sin(a), 0.0, math.cos(a)], dtype=DOUBLE).expand(count, 3)
        albedo = (lambertian().evaluate(n, dirs, wo, ones, zeros, ones[:, :1]) * weights).sum(0)
        assert torch.allclose(albedo, torch.ones(3, dtype=DOUBLE), atol=1e-4)
        for r in (0.05, 0.2, 0.4, 0.8, 1.0):
            rough = torch.full((count, 1), r, dtype=DOUBLE)
            lobe = (cook_torrance().evaluate(n, dirs, wo, zeros, ones, rough) * weights).sum(0)
            assert lobe.max() <= 1.0 + 1e-3 and lobe.min() > 0.3, (view, r, lobe)


def brute_force_shade(model, lighting, light, n, wo, kd, ks, r, n_theta=150) -> torch.Tensor:
    """∫ L(wi)·evaluate(wi, wo) dwi over the hemisphere of n = +z (midpoint grid)."""
    dirs, weights = hemisphere_grid(n_theta)
    count = dirs.shape[0]
    f = model.evaluate(n.expand(count, 3), dirs, wo.expand(count, 3), kd.expand(count, 3),
                       ks.expand(count, 3), r.expand(count, 1))
    return (f * lighting.radiance(light, dirs[None])[0] * weights).sum(0)


VIEWS = ((0.0, 0.0, 0.4), (25.0, 1.0, 0.2), (45.0, 2.0, 0.3), (60.0, 4.0, 0.8))  # (θo°, azimuth, roughness)


@pytest.mark.parametrize(
    "component,bands,light_kind,views,rtol",
    [
        (lambertian, 3, "constant", VIEWS, 1e-4),
        (lambertian, 3, "random", VIEWS, 1e-4),
        (cook_torrance, 3, "constant", VIEWS + ((80.0, 0.5, 0.4),), 1e-3),
        (cook_torrance, 3, "random", VIEWS + ((80.0, 0.5, 0.4),), 1e-3),
        (cook_torrance, 4, "decaying", VIEWS + ((80.0, 0.5, 0.4),), 5e-3),
        (cook_torrance, 9, "decaying", VIEWS + ((80.0, 0.5, 0.4),), 0.02),
    ],
)
def test_shade_matches_numerical_integral(component, bands, light_kind, views, rtol):
    """shade() vs brute-force integration of evaluate() over the hemisphere (150 × 600 grid).

    Lights: a constant colour; random SH coefficients (std 0.4 against a DC of ~3.5); or a
    decaying spectrum, std 0.4/(1+l)², as natural lighting has. Cook-Torrance is checked on its
    specular part alone (ρd = 0). Measured relative errors: lambertian 2e-5 (the grid's);
    specular with bands 3 (moment table only) ≤ 2e-4 up to 80°; bands 4 and 9 (table + 4 × 8
    sampled nodes for l ≥ 3) ≤ 0.15 % and ≤ 0.8 %. A flat spectrum up to l = 8 is beyond 4 × 8 nodes.
    """
    lighting = sh(bands)
    gen = torch.Generator().manual_seed(5)
    light = torch.zeros(1, bands * bands, 3, dtype=DOUBLE)
    light[0, 0] = torch.tensor([1.0, 0.8, 0.6], dtype=DOUBLE) * math.sqrt(4 * math.pi)
    if light_kind != "constant":
        degree = torch.arange(bands * bands, dtype=DOUBLE).sqrt().floor()
        scale = 0.4 / (1 + degree) ** 2 if light_kind == "decaying" else torch.full_like(degree, 0.4)
        light += scale[None, :, None] * torch.randn(1, bands * bands, 3, generator=gen, dtype=DOUBLE)
    model = component()
    n = torch.tensor([0.0, 0.0, 1.0], dtype=DOUBLE)
    kd = torch.tensor([0.6, 0.4, 0.3], dtype=DOUBLE) * (component is lambertian)
    ks = torch.tensor([0.04, 0.3, 1.0], dtype=DOUBLE)
    for view, azimuth, r in views:
        a = math.radians(view)
        wo = torch.tensor([math.sin(a) * math.cos(azimuth), math.sin(a) * math.sin(azimuth), math.cos(a)],
                          dtype=DOUBLE)
        rough = torch.tensor([r], dtype=DOUBLE)
        expected = brute_force_shade(model, lighting, light, n, wo, kd, ks, rough)
        out = model.shade(lighting, light, n.view(1, 1, 3), wo.view(1, 1, 3), kd.view(1, 1, 3),
                          ks.view(1, 1, 3), rough.view(1, 1, 1))
        assert torch.allclose(out["radiance"], out["diffuse"] + out["specular"])
        error = (out["radiance"][0, 0] - expected).abs().max()
        assert error <= rtol * expected.abs().max(), (view, r, error.item())


def test_sampled_specular_matches_numerical_integral():
    """The sampled path alone (used for lightings without ``quadratic_split``): ≤ 1.5 % up to 60°."""
    lighting = sh(3)
    gen = torch.Generator().manual_seed(7)
    light = torch.zeros(1, 9, 3, dtype=DOUBLE)
    light[0, 0] = math.sqrt(4 * math.pi)
    light += 0.4 * torch.randn(1, 9, 3, generator=gen, dtype=DOUBLE)
    model = cook_torrance()
    n, zero = torch.tensor([0.0, 0.0, 1.0], dtype=DOUBLE), torch.zeros(3, dtype=DOUBLE)
    ks = torch.tensor([0.04, 0.3, 1.0], dtype=DOUBLE)
    for view, azimuth, r in VIEWS:
        a = math.radians(view)
        wo = torch.tensor([math.sin(a) * math.cos(azimuth), math.sin(a) * math.sin(azimuth), math.cos(a)],
                          dtype=DOUBLE)
        rough = torch.tensor([r], dtype=DOUBLE)
        expected = brute_force_shade(model, lighting, light, n, wo, zero, ks, rough)
        sampled = model._specular_by_sampling(lighting, light, n.view(1, 1, 3), wo.view(1, 1, 3), ks.view(1, 1, 3),
                                              rough.view(1, 1, 1))[0, 0]
        assert (sampled - expected).abs().max() <= 0.015 * expected.abs().max(), (view, r)


def test_lambertian_shade_is_exact_and_diffuse_only():
    lighting = sh()
    gen = torch.Generator().manual_seed(6)
    light = torch.randn(2, 9, 3, generator=gen)
    n = torch.nn.functional.normalize(torch.randn(2, 30, 3, generator=gen), dim=-1)
    kd = torch.rand(2, 30, 3, generator=gen)
    out = lambertian().shade(lighting, light, n, -n, kd, torch.zeros_like(kd), torch.ones(2, 30, 1))
    assert torch.allclose(out["radiance"], kd * lighting.irradiance(light, n) / math.pi)
    assert (out["specular"] == 0).all()


def test_specular_zero_when_viewed_from_below():
    lighting = sh()
    n = torch.tensor([[[0.0, 0.0, 1.0]]])
    wo = torch.tensor([[[0.6, 0.0, -0.8]]])
    out = cook_torrance().shade(lighting, lighting.initial(1), n, wo, torch.full((1, 1, 3), 0.5),
                                torch.full((1, 1, 3), 0.5), torch.full((1, 1, 1), 0.4))
    assert (out["specular"] == 0).all() and (out["diffuse"] > 0).all()
