"""Interface of reflectance models (BRDFs)."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from .base import ComponentBase

__all__ = ["Reflectance"]


class Reflectance(ComponentBase, ABC):
    """A BRDF driven by diffuse albedo, specular albedo and roughness.

    All directions are unit vectors pointing away from the surface; shapes broadcast over
    leading dimensions ``(...)``: normals/wi/wo ``(..., 3)``, diffuse/specular ``(..., 3)``,
    roughness ``(..., 1)``.

    Attributes:
        brdf: name of the mathematical BRDF this component evaluates (``"lambert"``,
            ``"redner-cook-torrance"``...). Renderers that evaluate BRDFs in their own language
            (path tracers) recognise the BRDF by this name, never by the Python class.
    """

    brdf: str = ""

    @abstractmethod
    def evaluate(
        self,
        normal: torch.Tensor,
        wi: torch.Tensor,
        wo: torch.Tensor,
        diffuse: torch.Tensor,
        specular: torch.Tensor,
        roughness: torch.Tensor,
    ) -> torch.Tensor:
        """BRDF times the cosine term, f(wi, wo)·|n·wi|; zero below the horizon. Returns (..., 3)."""

    @abstractmethod
    def shade(
        self,
        lighting,
        light: torch.Tensor,
        normal: torch.Tensor,
        wo: torch.Tensor,
        diffuse: torch.Tensor,
        specular: torch.Tensor,
        roughness: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Outgoing radiance under distant light, without visibility (for rasterizers).

        Args:
            lighting: the lighting component; ``light`` its (B, K, 3) coefficients.
            normal, wo: (B, N, 3); diffuse, specular: (B, N, 3); roughness: (B, N, 1).
        Returns:
            ``{"radiance": (B, N, 3), "diffuse": (B, N, 3), "specular": (B, N, 3)}`` where
            radiance = diffuse + specular contributions.
        """
