"""Lambertian reflectance: f = ρd/π."""
from __future__ import annotations

import math

import torch

from facerecon.interfaces import Reflectance

__all__ = ["Lambertian"]


class Lambertian(Reflectance):
    """Diffuse-only BRDF; ``specular`` and ``roughness`` are accepted and ignored."""

    brdf = "lambert"

    def evaluate(self, normal, wi, wo, diffuse, specular, roughness) -> torch.Tensor:
        """f·cos = ρd/π · max(n·wi, 0) (wi towards the light, wo towards the viewer) -> (..., 3)."""
        cos_i = (normal * wi).sum(-1, keepdim=True).clamp(min=0.0)
        return diffuse * cos_i / math.pi

    def shade(self, lighting, light, normal, wo, diffuse, specular, roughness) -> dict[str, torch.Tensor]:
        """Exact diffuse radiance ρd·E(n)/π from ``lighting.irradiance``; specular is zero.

        Args:
            normal, wo, diffuse: (B, N, 3); light: (B, K, 3).
        Returns:
            ``radiance``, ``diffuse``, ``specular``: (B, N, 3).
        """
        radiance = diffuse * lighting.irradiance(light, normal) / math.pi
        return {"radiance": radiance, "diffuse": radiance, "specular": torch.zeros_like(radiance)}
