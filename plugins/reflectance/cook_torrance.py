"""redner's "Cook-Torrance": Lambert plus a normalised Blinn-Phong microfacet lobe (docs/architecture.md, Conventions).

Directions point away from the surface; ``wi`` towards the light, ``wo`` towards the viewer.
redner (``BachiLi/redner`` ``src/material.h``, ``bsdf()``) names them the other way round: its
``wi = -incoming_ray.dir`` points at the viewer and its ``wo`` at the light. In our names:

    f(wi, wo)·(n·wi) = ρd·(n·wi)/π                                   # diffuse_contrib
                     + F·D·G / (4·(n·wo))                            # specular_contrib = F*D*G/(4*shading_wi)
    m  = normalize(wi + wo)                                          # auto m = normalize(wi + wo)
    e  = max(2/r − 2, 0)                                             # roughness_to_phong
    D  = (n·m)^e·(e + 2)/(2π)                                        # pow(m_local[2], e)*(e+2)/(2π)
    G  = G1(wi)·G1(wo),  a = 1/(√r·tan θ_v)                          # smithG1: alpha = sqrt(roughness)
    G1 = 1 if a ≥ 1.6 (or θ_v = 0) else (3.535a + 2.181a²)/(1 + 2.276a + 2.577a²)
    F  = ρs + (1 − ρs)·(1 − |m·wo|)^5                                # Schlick, cos_theta_d = |m·wo|

(the specular BRDF F·D·G/(4(n·wi)(n·wo)) is symmetric in wi and wo; |m·wi| = |m·wo|).
Differences from redner, on measure-zero or negligible sets: one-sided only (zero when n·wi ≤ 0
or, for the specular lobe, n·wo ≤ 0); no geometric-normal test and no 1e-3 grazing cut-off;
roughness clamped to [min_roughness, 1]; negative albedos are not clamped.

Energy: with ρs = 1 the lobe's directional albedo ∫ f_spec·cos stays below 1 up to 75° from the
normal for every roughness, but exceeds it at grazing views (1.02 at 80°, 1.11 at 88° for
r = 0.4) because redner pairs the Blinn-Phong D with the Beckmann G1 approximation.

``shade()`` (for rasterizers, no visibility): the diffuse part is exact, ρd·E(n)/π with E from
``lighting.irradiance``. The specular part ∫ L(wi)·f_spec(wi, wo)·(n·wi) dwi uses the
deterministic lobe quadrature of :mod:`.specular_lobe`:

- the part of the light that is a quadratic polynomial of the direction (the SH bands l ≤ 2,
  from ``lighting.quadratic_split``) is integrated exactly, up to the bilinear interpolation of
  lobe moments precomputed once to high accuracy and tabulated over (cos θo, √r): cheap;
- the rest (SH bands l ≥ 3, or any lighting without ``quadratic_split``) is sampled at
  ``samples_theta × samples_phi`` local nodes, reading the radiance from a 64 × 128 lat-long
  table of ``lighting.radiance`` (so the cost does not grow with the coefficient count).

Measured against a brute-force integral of the specular part (tests/plugins/test_reflectance.py
and a wider sweep of roughness 0.05–1, views 0–88°): the moment table is within 0.2 % (2e-4 in
the tests); adding the sampled l ≥ 3 part of a natural, decaying SH spectrum stays within 1 % for
9 bands; the sampled 4×8 rule alone is within 1.5 % up to 60° from the normal and 7 % up to 88°
(raise the node counts for lights with strong high-order bands). Both paths are torch
expressions of normal, wo, maps, roughness and light that autograd differentiates (the tables
piecewise-linearly).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from facerecon.interfaces import Reflectance

from facerecon.envmap import latlong_directions, sample_latlong

from .specular_lobe import EPS, lobe_nodes, lookup_moments, moment_table, phong_exponent, smith_g1

__all__ = ["CookTorrance", "ENVMAP_HEIGHT"]

#: Rows of the lat-long radiance table the sampled specular path reads (bilinear error ≤ 0.5 %
#: of the peak radiance for SH up to 9 bands).
ENVMAP_HEIGHT = 64


def _tangent_frame(normal: torch.Tensor, wo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit tangent t (projection of wo on the tangent plane) and bitangent n × t, each (..., 3).

    Falls back to a fixed branchless basis (Duff et al. 2017) where wo is (almost) along n; the
    lobe is then rotationally symmetric and the choice does not matter.
    """
    t = wo - (wo * normal).sum(-1, keepdim=True) * normal
    length = t.norm(dim=-1, keepdim=True)
    x, y, z = normal.unbind(-1)
    sign = torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))
    a = -1.0 / (sign + z)
    fallback = torch.stack([1.0 + sign * x * x * a, sign * x * y * a, -sign * x], dim=-1)
    t = torch.where(length > 1e-4, t / length.clamp(min=1e-4), fallback)
    return t, torch.cross(normal, t, dim=-1)


class CookTorrance(Reflectance):
    """Lambert + normalised Blinn-Phong / Smith-Beckmann / Schlick, as redner (module docstring)."""

    brdf = "redner-cook-torrance"

    def _roughness(self, roughness: torch.Tensor) -> torch.Tensor:
        return roughness.clamp(min=self.params.min_roughness, max=1.0)

    def specular_lobe(self, normal, wi, wo, specular, roughness) -> torch.Tensor:
        """Specular f_spec(wi, wo) = F·D·G/(4·(n·wi)·(n·wo)) without the cosine (..., 3); symmetric."""
        r = self._roughness(roughness)
        cos_i = (normal * wi).sum(-1, keepdim=True)
        cos_o = (normal * wo).sum(-1, keepdim=True)
        front = ((cos_i > 0) & (cos_o > 0)).to(wi.dtype)
        m = F.normalize(wi + wo, dim=-1, eps=1e-12)
        cos_m = (normal * m).sum(-1, keepdim=True).clamp(min=1e-8)
        e = phong_exponent(r)
        d = cos_m.pow(e) * (e + 2.0) / (2.0 * math.pi)
        g = smith_g1(cos_i, r) * smith_g1(cos_o, r)
        schlick = (1.0 - (m * wo).sum(-1, keepdim=True).abs()).clamp(min=0.0).pow(5)
        fresnel = specular + (1.0 - specular) * schlick
        return front * fresnel * d * g / (4.0 * cos_i.clamp(min=EPS) * cos_o.clamp(min=EPS))

    def evaluate(self, normal, wi, wo, diffuse, specular, roughness) -> torch.Tensor:
        """f(wi, wo)·(n·wi) = ρd·max(n·wi, 0)/π + F·D·G/(4·(n·wo)) -> (..., 3)."""
        cos_i = (normal * wi).sum(-1, keepdim=True).clamp(min=0.0)
        return diffuse * cos_i / math.pi + self.specular_lobe(normal, wi, wo, specular, roughness) * cos_i

    def shade(self, lighting, light, normal, wo, diffuse, specular, roughness) -> dict[str, torch.Tensor]:
        """Outgoing radiance under distant light (no visibility); see the module docstring.

        Args:
            lighting: lighting component; light: (B, K, 3).
            normal, wo, diffuse, specular: (B, N, 3) (normal, wo unit); roughness: (B, N, 1).
        Returns:
            ``radiance``, ``diffuse``, ``specular``: (B, N, 3).
        """
        diffuse_rad = diffuse * lighting.irradiance(light, normal) / math.pi
        specular_rad = self.specular_radiance(lighting, light, normal, wo, specular, roughness)
        return {"radiance": diffuse_rad + specular_rad, "diffuse": diffuse_rad, "specular": specular_rad}

    def specular_radiance(self, lighting, light, normal, wo, specular, roughness) -> torch.Tensor:
        """∫ L(wi)·f_spec(wi, wo)·(n·wi) dwi for (B, N, ·) inputs -> (B, N, 3)."""
        split = lighting.quadratic_split(light)
        if split is None:
            return self._specular_by_sampling(lighting, light, normal, wo, specular, roughness)
        polynomial, residual = split
        radiance = self._specular_from_moments(polynomial, normal, wo, specular, roughness)
        if residual is not None:
            radiance = radiance + self._specular_by_sampling(lighting, residual, normal, wo, specular, roughness)
        return radiance

    def _specular_from_moments(self, polynomial, normal, wo, specular, roughness) -> torch.Tensor:
        """Contract L(ω) = k + b·ω + ωᵀAω with the tabulated lobe moments (x = t, y = b, z = n)."""
        k, b, a = polynomial  # (B, 3), (B, 3, 3), (B, 3, 3, 3)
        batch, count = normal.shape[:2]
        cos_o = (normal * wo).sum(-1, keepdim=True)
        r = self._roughness(roughness)
        table = moment_table(self.params.min_roughness, normal.device, normal.dtype, self.context.cache_dir)
        moments = lookup_moments(table, cos_o, r, self.params.min_roughness) * (cos_o > 0).to(normal.dtype)
        t, _ = _tangent_frame(normal, wo)
        a_flat = a.reshape(batch, 3, 9)
        t_a = (t @ a_flat).view(batch, count, 3, 3)  # tᵀA per channel
        n_a = (normal @ a_flat).view(batch, count, 3, 3)
        t_a_t = (t_a * t[..., None]).sum(2)
        t_a_n = (t_a * normal[..., None]).sum(2)
        n_a_n = (n_a * normal[..., None]).sum(2)
        trace = a.diagonal(dim1=1, dim2=2).sum(-1)[:, None]  # (B, 1, 3)
        b_t, b_n = t @ b, normal @ b  # (B, N, 3)

        def integrate(mu: torch.Tensor) -> torch.Tensor:
            m1, mx, mz, mxx, myy, mzz, mxz = (mu[..., i : i + 1] for i in range(7))
            # bᵀAb = tr A − tᵀAt − nᵀAn for the orthonormal frame (t, b, n).
            return (k[:, None] * m1 + mx * b_t + mz * b_n + (mxx - myy) * t_a_t + (mzz - myy) * n_a_n
                    + myy * trace + 2.0 * mxz * t_a_n)

        base, grazing = integrate(moments[..., :7]), integrate(moments[..., 7:])
        return specular * base + (1.0 - specular) * grazing

    def _specular_by_sampling(self, lighting, light, normal, wo, specular, roughness) -> torch.Tensor:
        """Look the radiance up at the lobe's local nodes turned into camera directions.

        ``lighting.radiance`` is tabulated once per call on a lat-long grid of
        ``ENVMAP_HEIGHT × 2·ENVMAP_HEIGHT`` directions and read bilinearly, so the cost does not
        grow with the light's coefficient count.
        """
        batch, count = normal.shape[:2]
        cos_o = (normal * wo).sum(-1, keepdim=True)
        wi_local, weight, schlick = lobe_nodes(
            cos_o, self._roughness(roughness), self.params.samples_theta, self.params.samples_phi
        )
        t, b = _tangent_frame(normal, wo)
        wi = wi_local[..., 0:1] * t[:, :, None] + wi_local[..., 1:2] * b[:, :, None] \
            + wi_local[..., 2:3] * normal[:, :, None]  # (B, N, M, 3)
        grid = latlong_directions(ENVMAP_HEIGHT, 2 * ENVMAP_HEIGHT, normal.device, normal.dtype)
        envmap = lighting.radiance(light, grid.reshape(1, -1, 3).expand(batch, -1, -1))
        envmap = envmap.reshape(batch, ENVMAP_HEIGHT, 2 * ENVMAP_HEIGHT, -1)
        radiance = sample_latlong(envmap, wi.reshape(batch, -1, 3)).reshape(batch, count, -1, 3)
        weighted = radiance * weight[..., None]
        base = weighted.sum(2)
        grazing = (weighted * schlick[..., None]).sum(2)
        return specular * base + (1.0 - specular) * grazing
