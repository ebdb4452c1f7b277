"""The ``sh`` lighting: basis, Lambert convolution, environment-map layout."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facerecon.interfaces import BuildContext
from facerecon.registry import Registry
from plugins import lighting as lighting_plugin
from plugins.lighting import SHParams
from facerecon.envmap import latlong_directions, sample_latlong
from plugins.lighting.sh import SHLighting, lambert_kernel, sh_basis


def make(bands: int = 3, ambient: float = 1.0) -> SHLighting:
    return SHLighting(SHParams(bands=bands, ambient=ambient), BuildContext(torch.device("cpu"), None, build=None))


def gauss_sphere(n_theta: int, n_phi: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Directions (N, 3) and solid-angle weights (N,) exact for polynomials of degree < 2·n_theta."""
    z, w = np.polynomial.legendre.leggauss(n_theta)
    phi = (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi
    z, phi = np.meshgrid(z, phi, indexing="ij")
    r = np.sqrt(1 - z**2)
    dirs = np.stack([r * np.cos(phi), r * np.sin(phi), z], -1).reshape(-1, 3)
    weights = np.repeat(w, n_phi) * (2 * np.pi / n_phi)
    return torch.from_numpy(dirs), torch.from_numpy(weights)


def midpoint_sphere(n_theta: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fine midpoint grid (N, 3) with weights, for non-polynomial integrands."""
    theta = (torch.arange(n_theta, dtype=torch.float64) + 0.5) * math.pi / n_theta
    phi = (torch.arange(2 * n_theta, dtype=torch.float64) + 0.5) * math.pi / n_theta
    theta, phi = torch.meshgrid(theta, phi, indexing="ij")
    dirs = torch.stack([theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos()], -1).reshape(-1, 3)
    return dirs, (theta.sin() * (math.pi / n_theta) ** 2).reshape(-1)


def test_registered():
    registry = Registry()
    lighting_plugin.facerecon_register_components(registry)
    spec = registry.get("lighting", "sh")
    assert spec.params().bands == 3 and spec.load() is SHLighting


@pytest.mark.parametrize("bands", [1, 3, 9])
def test_basis_is_orthonormal(bands):
    dirs, weights = gauss_sphere(bands + 1, 2 * bands + 2)
    y = sh_basis(dirs, bands)
    gram = (y * weights[:, None]).T @ y
    assert torch.allclose(gram, torch.eye(bands * bands, dtype=torch.float64), atol=1e-10)


def test_basis_matches_closed_form_tables():
    dirs = torch.nn.functional.normalize(torch.randn(50, 3, dtype=torch.float64), dim=-1)
    x, y, z = dirs.unbind(-1)
    c0, c1 = 0.5 / math.sqrt(math.pi), math.sqrt(3 / (4 * math.pi))
    c2, c3, c4 = math.sqrt(15 / (4 * math.pi)), math.sqrt(5 / (16 * math.pi)), math.sqrt(15 / (16 * math.pi))
    expected = torch.stack([torch.full_like(x, c0), c1 * y, c1 * z, c1 * x, c2 * x * y, c2 * y * z,
                            c3 * (3 * z * z - 1), c2 * x * z, c4 * (x * x - y * y)], -1)
    assert torch.allclose(sh_basis(dirs, 3), expected, atol=1e-12)
    # Y_30 = sqrt(7/(16π))·(5z³ − 3z) checks the three-term recurrence.
    assert torch.allclose(sh_basis(dirs, 4)[:, 12], math.sqrt(7 / (16 * math.pi)) * (5 * z**3 - 3 * z), atol=1e-12)


def test_lambert_kernel_values():
    kernel = lambert_kernel(5)
    assert kernel[0] == pytest.approx(math.pi)
    assert kernel[1:4] == pytest.approx([2 * math.pi / 3] * 3)
    assert kernel[4:9] == pytest.approx([math.pi / 4] * 5)
    assert kernel[9:16] == pytest.approx([0.0] * 7)
    assert kernel[16:25] == pytest.approx([-math.pi / 24] * 9)


@pytest.mark.parametrize("bands", [3, 5])
def test_irradiance_is_clamped_cosine_integral(bands):
    """E(n) = ∫ L(ω)·max(n·ω, 0) dω, by brute force on a 200×400 grid (bands 5: l = 4 lobes included)."""
    sh = make(bands)
    gen = torch.Generator().manual_seed(0)
    light = torch.randn(1, bands * bands, 3, generator=gen, dtype=torch.float64)
    normals = torch.nn.functional.normalize(torch.randn(1, 6, 3, generator=gen, dtype=torch.float64), dim=-1)
    omega, weights = midpoint_sphere(200)
    radiance = sh.radiance(light, omega[None])[0]  # (M, 3)
    cosine = (normals[0] @ omega.T).clamp(min=0) * weights
    expected = cosine @ radiance
    actual = sh.irradiance(light, normals)[0]
    assert (actual - expected).abs().max() < 2e-4 * expected.abs().max()


def test_initial_light_makes_albedo_half_mid_grey():
    sh = make()
    light = sh.initial(2)
    assert light.shape == (2, 9, 3) and light.dtype == torch.float32
    normals = torch.nn.functional.normalize(torch.randn(2, 20, 3), dim=-1)
    lambert = 0.5 * sh.irradiance(light, normals) / math.pi
    assert torch.allclose(lambert, torch.full_like(lambert, 0.5), atol=1e-5)
    assert torch.allclose(make(ambient=0.8).radiance(make(ambient=0.8).initial(1), normals[:1]),
                          torch.full((1, 20, 3), 0.8), atol=1e-6)


def test_environment_map_layout():
    """Row 0 = up (−y), last row = down (+y), centre = +z, right of centre = +x, borders = −z."""
    height, width = 16, 32
    dirs = latlong_directions(height, width, dtype=torch.float64)
    assert torch.allclose(dirs.norm(dim=-1), torch.ones(height, width, dtype=torch.float64))
    assert (dirs[0, :, 1] < -0.99).all() and (dirs[-1, :, 1] > 0.99).all()
    assert dirs[height // 2, width // 2, 2] > 0.99 and dirs[height // 2, 3 * width // 4, 0] > 0.99
    assert dirs[height // 2, 0, 2] < -0.99 and dirs[height // 2, -1, 2] < -0.99
    # θ varies down the rows only, φ along the columns only (no swapped axes).
    assert torch.allclose(dirs[:, 0, 1], dirs[:, 5, 1]) and torch.allclose(dirs[3, :, 1], dirs[3, :1, 1].expand(width))

    sh = make()
    light = torch.zeros(1, 9, 3)
    light[0, 1] = -1.0  # radiance ∝ −y: bright up
    env = sh.environment_map(light, height, width)
    assert env.shape == (1, height, width, 3)
    assert env[0, 0].min() > 0.45 and env[0, -1].max() < -0.45
    light = torch.zeros(1, 9, 3)
    light[0, 2] = 1.0  # radiance ∝ z: brightest at the centre column, middle rows
    env = sh.environment_map(light, height, width)[0, ..., 0]
    row, col = divmod(int(env.argmax()), width)
    assert row in (height // 2 - 1, height // 2) and col in (width // 2 - 1, width // 2)


def test_environment_map_round_trip():
    """Looking the map up at direction d returns radiance(d): exactly at texel centres, closely in between."""
    sh = make(bands=5)
    gen = torch.Generator().manual_seed(1)
    light = torch.randn(1, 25, 3, generator=gen)
    light[0, 0] += 5.0
    height, width = 64, 128
    env = sh.environment_map(light, height, width)
    centres = latlong_directions(height, width).reshape(1, -1, 3)
    assert torch.allclose(sample_latlong(env, centres), sh.radiance(light, centres), atol=1e-4)
    dirs = torch.nn.functional.normalize(torch.randn(1, 500, 3, generator=gen), dim=-1)
    looked_up = sample_latlong(env, dirs)
    spread = sh.radiance(light, dirs).abs().max()
    assert (looked_up - sh.radiance(light, dirs)).abs().max() < 0.01 * spread


def test_quadratic_split_matches_radiance():
    dirs = torch.nn.functional.normalize(torch.randn(2, 40, 3, dtype=torch.float64), dim=-1)
    for bands in (1, 2, 3, 5):
        sh = make(bands)
        light = torch.randn(2, bands * bands, 3, dtype=torch.float64)
        (k, b, a), residual = sh.quadratic_split(light)
        poly = k[:, None] + torch.einsum("bni,bic->bnc", dirs, b) + torch.einsum("bni,bnj,bijc->bnc", dirs, dirs, a)
        rest = 0.0 if residual is None else sh.radiance(residual, dirs)
        assert (residual is None) == (bands <= 3)
        assert torch.allclose(poly + rest, sh.radiance(light, dirs), atol=1e-12)


def test_rejects_zero_bands_when_validating():
    from facerecon.api import build
    from facerecon.recipe import RecipeError

    with pytest.raises(RecipeError, match="lighting.bands: must be >= 1 and <= 16, got 0"):
        build("lighting", "sh", bands=0)
