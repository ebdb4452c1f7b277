"""Real spherical-harmonics lighting (docs/architecture.md, Conventions): coefficients are *radiance*, camera frame.

L(ω) = Σ_{l<bands} Σ_m c_lm · Y_lm(ω) per colour channel, with ω a unit direction in the OpenCV
camera frame (x right, y down, +z forward). Coefficient k holds (l, m) with k = l² + l + m.

The basis is the usual real, orthonormal SH of the Cartesian direction (x, y, z) with z as the
polar axis and no Condon–Shortley phase, e.g. Y_00 = 0.282095, Y_1,-1 = 0.488603·y,
Y_10 = 0.488603·z, Y_11 = 0.488603·x, Y_2,-2 = 1.092548·xy, Y_22 = 0.546274·(x² − y²):

    Y_lm = √2 · N_l^|m|(z) · Im((x + iy)^|m|)   (m < 0)
    Y_l0 = N_l^0(z)
    Y_lm = √2 · N_l^m(z) · Re((x + iy)^m)       (m > 0)

where N_l^m is the normalised associated Legendre function divided by sin^m θ, computed by the
stable upward recurrence in l (no division by sin θ, no poles).
"""
from __future__ import annotations

import functools
import math

import torch

from facerecon.interfaces import Lighting

from facerecon.envmap import latlong_directions

__all__ = ["SHLighting", "sh_basis", "lambert_kernel"]


def _diagonal_constant(m: int) -> float:
    """N_m^m = K_m^m·(2m−1)!! with K_m^m = √((2m+1)/(4π·(2m)!)) and (2m−1)!! = (2m)!/(2^m·m!), in logs."""
    log_value = 0.5 * (math.log(2 * m + 1) - math.log(4 * math.pi) + math.lgamma(2 * m + 1)) - (
        m * math.log(2) + math.lgamma(m + 1)
    )
    return math.exp(log_value)


@functools.lru_cache(maxsize=64)
def _level_constants(bands: int, device: torch.device, dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per level l ≥ 2, (a_lm, a_lm·b_lm) for m = 0..l−2 of N_l^m = a·z·N_{l−1}^m − ab·N_{l−2}^m."""
    levels = []
    for l in range(2, bands):
        a = [math.sqrt((4 * l * l - 1) / (l * l - m * m)) for m in range(l - 1)]
        ab = [a[m] * math.sqrt(((l - 1) ** 2 - m * m) / (4 * (l - 1) ** 2 - 1)) for m in range(l - 1)]
        levels.append((torch.tensor(a, device=device, dtype=dtype), torch.tensor(ab, device=device, dtype=dtype)))
    return levels


def sh_basis(directions: torch.Tensor, bands: int) -> torch.Tensor:
    """Real orthonormal SH basis of unit directions.

    The recurrence runs over l with all orders m of a band at once: N_l^l is a constant,
    N_l^(l−1) = √(2l+1)·z·N_(l−1)^(l−1), and N_l^m = a_lm·z·N_(l−1)^m − a_lm·b_lm·N_(l−2)^m below.

    Args:
        directions: (..., 3) unit vectors.
        bands: number of bands (L + 1).
    Returns:
        (..., bands²) values Y_k(ω), k = l² + l + m.
    """
    x, y, z = directions.unbind(-1)
    z = z[..., None]
    re, im = [torch.ones_like(x)], [torch.zeros_like(x)]
    for _ in range(1, bands):
        re, im = re + [x * re[-1] - y * im[-1]], im + [x * im[-1] + y * re[-1]]
    re_m, im_m = torch.stack(re, dim=-1), torch.stack(im, dim=-1)  # (..., bands): sin^m θ·(cos, sin)(mφ)
    levels = _level_constants(bands, directions.device, directions.dtype)
    sqrt2 = math.sqrt(2.0)
    out, prev, prev2 = [], None, None
    for l in range(bands):
        diagonal = torch.full_like(z, _diagonal_constant(l))
        if l == 0:
            row = diagonal
        elif l == 1:
            row = torch.cat([z * (math.sqrt(3.0) * _diagonal_constant(0)), diagonal], dim=-1)
        else:
            a, ab = levels[l - 2]
            lower = a * z * prev[..., : l - 1] - ab * prev2[..., : l - 1]
            below_diagonal = z * (math.sqrt(2 * l + 1) * _diagonal_constant(l - 1))
            row = torch.cat([lower, below_diagonal, diagonal], dim=-1)  # N_l^m, m = 0..l
        prev2, prev = prev, row
        if l == 0:
            out.append(row)
        else:
            scaled = sqrt2 * row[..., 1:]
            sine, cosine = scaled * im_m[..., 1 : l + 1], scaled * re_m[..., 1 : l + 1]
            out.append(torch.cat([sine.flip(-1), row[..., :1], cosine], dim=-1))
    return torch.cat(out, dim=-1)


def lambert_kernel(bands: int) -> list[float]:
    """Ramamoorthi–Hanrahan clamped-cosine coefficients Â_l, repeated per coefficient k.

    Â_0 = π, Â_1 = 2π/3, Â_l = 0 for odd l > 1 and, for even l ≥ 2,
    Â_l = 2π·(−1)^(l/2−1) / ((l+2)(l−1)) · l! / (2^l ((l/2)!)²),
    so that E(n) = ∫ L(ω) max(n·ω, 0) dω = Σ Â_l c_lm Y_lm(n) exactly for band-limited L.
    """
    values = []
    for l in range(bands):
        if l == 0:
            a = math.pi
        elif l == 1:
            a = 2.0 * math.pi / 3.0
        elif l % 2:
            a = 0.0
        else:
            half = l // 2
            a = (2.0 * math.pi * (-1) ** (half - 1) / ((l + 2) * (l - 1))
                 * math.exp(math.lgamma(l + 1) - l * math.log(2) - 2 * math.lgamma(half + 1)))
        values.extend([a] * (2 * l + 1))
    return values


class SHLighting(Lighting):
    """Distant light as real SH radiance with ``params.bands`` bands (K = bands² per channel).

    ``light`` tensors are (B, K, 3). See the module docstring for the basis and frame.
    """

    def __init__(self, params, context) -> None:
        super().__init__(params, context)
        self.bands = params.bands
        self.n_coeffs = params.bands**2
        self.convention = (f"real spherical harmonics radiance, {self.bands} bands l = 0..{self.bands - 1}, "
                           "m = -l..l, row l^2 + l + m, one column per RGB channel, camera frame")
        self._kernel = lambert_kernel(params.bands)

    def basis(self, directions: torch.Tensor) -> torch.Tensor:
        """SH basis (..., K) of unit directions (..., 3)."""
        return sh_basis(directions, self.bands)

    def initial(self, batch: int) -> torch.Tensor:
        """Constant white radiance ``params.ambient``: (B, K, 3) with only the DC term set.

        A Lambertian surface of albedo ρ then reflects ρ·ambient (ambient = 1: albedo 0.5 -> 0.5).
        """
        light = torch.zeros(batch, self.n_coeffs, 3, device=self.device)
        light[:, 0, :] = self.params.ambient * math.sqrt(4.0 * math.pi)
        return light

    def radiance(self, light: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """L(ω) for unit directions (B, N, 3) -> (B, N, 3)."""
        return self.basis(directions) @ light

    def quadratic_split(self, light: torch.Tensor):
        """Split the radiance into a quadratic polynomial of the direction plus a residual light.

        The bands l ≤ 2 give L_c(ω) = k_c + Σ_i b_ic ω_i + Σ_ij A_ijc ω_i ω_j exactly; reflectance
        models integrate it against precomputed lobe moments and only sample the residual.

        Returns:
            ``((k (B, 3), b (B, 3, 3) [i, channel], A (B, 3, 3, 3) symmetric [i, j, channel]),
            residual)`` where ``residual`` is ``light`` with its first 9 coefficients zeroed, or
            None when bands ≤ 3.
        """
        residual = None
        if self.bands > 3:
            residual = torch.cat([torch.zeros_like(light[:, :9]), light[:, 9:]], dim=1)
        c = torch.nn.functional.pad(light[:, :9], (0, 0, 0, max(0, 9 - light.shape[1])))  # (B, 9, 3)
        c0, c1 = 0.5 / math.sqrt(math.pi), math.sqrt(3.0 / (4.0 * math.pi))
        c2, c3, c4 = (math.sqrt(15.0 / (4.0 * math.pi)), math.sqrt(5.0 / (16.0 * math.pi)),
                      math.sqrt(15.0 / (16.0 * math.pi)))
        k = c0 * c[:, 0] - c3 * c[:, 6]
        b = c1 * torch.stack([c[:, 3], c[:, 1], c[:, 2]], dim=1)
        xy, yz, xz = 0.5 * c2 * c[:, 4], 0.5 * c2 * c[:, 5], 0.5 * c2 * c[:, 7]
        xx, zz = c4 * c[:, 8], 3.0 * c3 * c[:, 6]
        a = torch.stack([
            torch.stack([xx, xy, xz], dim=1),
            torch.stack([xy, -xx, yz], dim=1),
            torch.stack([xz, yz, zz], dim=1),
        ], dim=1)
        return (k, b, a), residual

    def irradiance(self, light: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
        """E(n) = ∫ L(ω) max(n·ω, 0) dω for unit normals (B, N, 3) -> (B, N, 3), exact."""
        kernel = light.new_tensor(self._kernel)
        return self.basis(normals) @ (light * kernel[:, None])

    def environment_map(self, light: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Lat-long radiance map (B, height, width, 3).

        Row i looks at θ = π(i+0.5)/height from up (−y); column j at azimuth
        φ = 2π(j+0.5)/width − π from +z towards +x; direction (sin θ sin φ, −cos θ, sin θ cos φ).
        See :mod:`facerecon.envmap` (``latlong_directions`` / ``sample_latlong``).
        """
        dirs = latlong_directions(height, width, device=light.device, dtype=light.dtype)
        dirs = dirs.reshape(1, -1, 3).expand(light.shape[0], -1, -1)
        return self.radiance(light, dirs).reshape(light.shape[0], height, width, 3)
