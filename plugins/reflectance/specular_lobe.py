"""Integrating redner's specular lobe against distant light (used by ``cook-torrance`` shading).

In the local frame of a shading point (n = z, tangent t = x along the projection of wo, b = y),
wo = (sin θo, 0, cos θo). Half-vectors m are importance-sampled from the normalised Blinn-Phong
distribution, pdf(m) = D(m)·(n·m), cos θm = u^(1/(e+2)), and wi = reflect(wo, m); the weight
f·cos/pdf = F·G·(wo·m)/((n·wo)(n·m)) (D cancels). For each azimuth φ of m, wi stays above the
horizon exactly while θm < π/4 + α/2 with α = atan2(sin θo cos φ, cos θo), so u is squeezed into
that range (weighted by its length) and no node straddles the horizon discontinuity. The nodes
form a product rule: Gauss–Legendre in u × midpoint in φ (symmetric about the n–wo plane).

Two uses:

- :func:`lobe_nodes` gives local-frame directions and weights for sampling any radiance;
- :func:`moment_table` integrates the lobe once, to high accuracy, against 1, wi and wi·wiᵀ
  (7 moments per Fresnel part, tabulated over (cos θo, √roughness)), so a radiance that is a
  quadratic polynomial of the direction (SH with ≤ 3 bands) is integrated exactly up to the
  table's bilinear interpolation by :func:`lookup_moments`.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from facerecon.io import atomic_path

__all__ = [
    "phong_exponent", "smith_g1", "quadrature_nodes", "lobe_nodes", "moment_table", "lookup_moments",
    "MOMENT_NAMES",
]

EPS = 1e-7

#: Order of the 7 moments per Fresnel part, in the local frame (x = t, y = b, z = n).
MOMENT_NAMES = ("1", "x", "z", "xx", "yy", "zz", "xz")

_TABLE_COS, _TABLE_ROUGH = 64, 64  # table resolution over cos θo and √roughness
_TABLE_THETA, _TABLE_PHI = 32, 24  # quadrature nodes filling the table (azimuths over (0, π))


def phong_exponent(roughness: torch.Tensor) -> torch.Tensor:
    """redner's ``roughness_to_phong``: e = max(2/r − 2, 0)."""
    return (2.0 / roughness - 2.0).clamp(min=0.0)


def smith_g1(cos_theta: torch.Tensor, roughness: torch.Tensor) -> torch.Tensor:
    """redner's rational Beckmann Smith G1 for cos θ = n·v > 0 (broadcasting).

    a = 1/(√r·tan θ); G1 = 1 if a ≥ 1.6 else (3.535a + 2.181a²)/(1 + 2.276a + 2.577a²).
    """
    cos_theta = cos_theta.clamp(EPS, 1.0)
    sin_theta = (1.0 - cos_theta * cos_theta).clamp(min=1e-12).sqrt()
    a = cos_theta / (roughness.sqrt() * sin_theta)
    g1 = (3.535 * a + 2.181 * a * a) / (1.0 + 2.276 * a + 2.577 * a * a)
    return torch.where(a >= 1.6, torch.ones_like(g1), g1)


@functools.lru_cache(maxsize=16)
def _nodes(n_theta: int, n_phi: int, even: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n_theta)
    u = np.repeat((x + 1.0) / 2.0, n_phi)
    weight = np.repeat(w / 2.0 / n_phi, n_phi)
    span = math.pi if even else 2.0 * math.pi
    phi = np.tile((np.arange(n_phi) + 0.5) * (span / n_phi) - (0.0 if even else math.pi), n_theta)
    return u, weight, phi


def quadrature_nodes(
    n_theta: int, n_phi: int, device, dtype, even: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Product rule: u (M,) Gauss–Legendre in (0, 1), weights (M,) summing to 1, φ (M,).

    φ covers (−π, π), or only (0, π) with ``even`` (enough for integrands even in φ).
    """
    u, weight, phi = (torch.tensor(v, device=device, dtype=dtype) for v in _nodes(n_theta, n_phi, even))
    return u, weight, phi


def lobe_nodes(cos_o: torch.Tensor, roughness: torch.Tensor, n_theta: int, n_phi: int, even: bool = False):
    """Quadrature of ∫ g(wi)·f_spec(wi, wo)·(n·wi) dwi in the local frame, for any g.

    ∫ g·f_spec·cos ≈ Σ_k weight_k·g(wi_k)·(ρs + (1 − ρs)·schlick_k).

    Args:
        cos_o: (..., 1) n·wo (the result is zero where it is ≤ 0).
        roughness: (..., 1) roughness (already clamped).
        even: only azimuths in (0, π) (for g even about the n–wo plane, e.g. the moments).
    Returns:
        wi (..., M, 3) local directions (x along wo's tangent projection, z = n),
        weight (..., M) (F = 1), schlick (..., M) = (1 − m·wo)^5.
    """
    u, node_weight, phi = quadrature_nodes(n_theta, n_phi, cos_o.device, cos_o.dtype, even)
    exponent = phong_exponent(roughness) + 2.0
    safe_cos_o = cos_o.clamp(min=EPS, max=1.0)
    sin_o = (1.0 - safe_cos_o * safe_cos_o).clamp(min=1e-12).sqrt()
    cos_phi, sin_phi = phi.cos(), phi.sin()
    alpha = torch.atan2(sin_o * cos_phi, safe_cos_o)  # (..., M)
    u_min = torch.cos(0.25 * math.pi + 0.5 * alpha).pow(exponent)
    span = 1.0 - u_min
    cos_m = (u_min + span * u).pow(1.0 / exponent)
    sin_m = (1.0 - cos_m * cos_m).clamp(min=1e-12).sqrt()
    wo_m = sin_o * sin_m * cos_phi + safe_cos_o * cos_m
    cos_i = 2.0 * wo_m * cos_m - safe_cos_o
    wi = torch.stack([2.0 * wo_m * sin_m * cos_phi - sin_o, 2.0 * wo_m * sin_m * sin_phi, cos_i], dim=-1)
    weight = (cos_o > 0).to(cos_o.dtype) * node_weight * span * smith_g1(cos_i, roughness) \
        * smith_g1(safe_cos_o, roughness) * wo_m / (safe_cos_o * cos_m)
    schlick = (1.0 - wo_m).clamp(min=0.0).pow(5)
    return wi, weight, schlick


@functools.lru_cache(maxsize=8)
def _moment_table_cpu(min_roughness: float) -> torch.Tensor:
    cos_axis = torch.linspace(0.0, 1.0, _TABLE_COS, dtype=torch.float64).clamp(min=1e-4)
    rough_axis = torch.linspace(math.sqrt(min_roughness), 1.0, _TABLE_ROUGH, dtype=torch.float64) ** 2
    rows = []
    for c in cos_axis:
        cos_o = torch.full((_TABLE_ROUGH, 1), float(c), dtype=torch.float64)
        wi, weight, schlick = lobe_nodes(cos_o, rough_axis[:, None], _TABLE_THETA, _TABLE_PHI, even=True)
        x, y, z = wi.unbind(-1)
        basis = torch.stack([torch.ones_like(x), x, z, x * x, y * y, z * z, x * z], dim=-1)  # (R, M, 7)
        rows.append(torch.cat([(weight[..., None] * basis).sum(1),
                               ((weight * schlick)[..., None] * basis).sum(1)], dim=-1))
    return torch.stack(rows).permute(2, 0, 1).contiguous()  # (14, cos, rough)


#: Bump when the table's definition or resolution changes, so stale cached tables are not read.
_TABLE_VERSION = 1


def _cached_table(min_roughness: float, cache_dir: Path | None) -> torch.Tensor:
    """The float64 table, read from ``cache_dir`` when an earlier process saved it there."""
    if cache_dir is None:
        return _moment_table_cpu(min_roughness)
    shape = f"{_TABLE_COS}x{_TABLE_ROUGH}x{_TABLE_THETA}x{_TABLE_PHI}"
    path = Path(cache_dir) / "reflectance" / f"redner-ct-moments-v{_TABLE_VERSION}-{min_roughness!r}-{shape}.pt"
    if path.exists():
        try:
            return torch.load(path, weights_only=True)
        except (OSError, RuntimeError):  # a damaged cache file is recomputed
            pass
    table = _moment_table_cpu(min_roughness)
    with atomic_path(path) as tmp:
        torch.save(table, tmp)
    return table


@functools.lru_cache(maxsize=16)
def moment_table(min_roughness: float, device, dtype, cache_dir: Path | None = None) -> torch.Tensor:
    """Lobe moments (14, n_cos, n_rough): the 7 :data:`MOMENT_NAMES` with F = 1, then with F = schlick.

    Rows sample cos θo uniformly on [0, 1], columns √roughness uniformly on [√min_roughness, 1].
    Computed once in float64 (0.2 s on a quiet CPU, much longer on a busy one; the moments are
    even in φ, so 32 × 24 nodes over half the azimuths suffice: 5e-4 from a 48 × 64 full-circle
    rule) and kept in ``cache_dir`` when one is given, so later processes only read it.
    """
    return _cached_table(float(min_roughness), cache_dir).to(device=torch.device(device), dtype=dtype)


def lookup_moments(table: torch.Tensor, cos_o: torch.Tensor, roughness: torch.Tensor, min_roughness: float):
    """Bilinear lookup of :func:`moment_table`, differentiable in cos θo and roughness.

    Args:
        cos_o, roughness: (B, N, 1), roughness within [min_roughness, 1].
    Returns:
        (B, N, 14) moments.
    """
    batch, count = cos_o.shape[:2]
    rho_min = math.sqrt(min_roughness)
    gx = 2.0 * (roughness.sqrt() - rho_min) / (1.0 - rho_min) - 1.0
    gy = 2.0 * cos_o.clamp(0.0, 1.0) - 1.0
    grid = torch.cat([gx, gy], dim=-1).reshape(1, 1, batch * count, 2)
    out = F.grid_sample(table[None], grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out[0, :, 0].transpose(0, 1).reshape(batch, count, -1)
