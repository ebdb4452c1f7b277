"""Interface of lighting models."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from .base import ComponentBase

__all__ = ["Lighting"]


class Lighting(ComponentBase, ABC):
    """Distant illumination described by (B, K, 3) coefficients.

    Attributes:
        n_coeffs: K.
    """

    n_coeffs: int

    @abstractmethod
    def initial(self, batch: int) -> torch.Tensor:
        """Initial coefficients (B, K, 3) (e.g. soft ambient white light)."""

    @abstractmethod
    def radiance(self, light: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """Incident radiance arriving from ``directions`` (B, N, 3) unit, camera frame -> (B, N, 3)."""

    @abstractmethod
    def irradiance(self, light: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
        """Cosine-weighted irradiance E(n) = ∫ L(ω) max(n·ω, 0) dω for (B, N, 3) normals -> (B, N, 3).

        A Lambertian surface of albedo ρ then reflects ρ·E/π.
        """

    @abstractmethod
    def environment_map(self, light: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Lat-long radiance map (B, height, width, 3) in the camera frame.

        Row 0 is straight up (-y in the OpenCV frame), the centre column looks along +z; the
        exact mapping is :func:`facerecon.geometry`-independent and documented by implementations.
        """
