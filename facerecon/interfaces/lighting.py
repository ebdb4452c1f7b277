"""Interface of lighting models."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from ..layout import ParameterGroup, ParameterLayout
from .base import ComponentBase

__all__ = ["Lighting"]


class Lighting(ComponentBase, ABC):
    """Distant illumination described by (B, K, 3) coefficients.

    Attributes:
        n_coeffs: K.
        convention: one sentence saying what the coefficients mean (written into results files so
            they can be read without facerecon).
    """

    n_coeffs: int
    convention: str = ""

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
        """Lat-long radiance map (B, height, width, 3) in the camera frame, laid out as
        :mod:`facerecon.envmap` defines (row 0 straight up, -y; the centre column looks along +z)."""

    def quadratic_split(self, light: torch.Tensor):
        """Optionally split the radiance into a quadratic polynomial of the direction plus a residual.

        Reflectance models can integrate the polynomial part exactly against precomputed lobe
        moments and sample only the residual. The default (None) means "no split: sample it all".

        Returns:
            None, or ``((k (B, 3), b (B, 3, 3) [i, channel], A (B, 3, 3, 3) symmetric
            [i, j, channel]), residual)`` with L(ω) = k + Σ b_i ω_i + Σ A_ij ω_i ω_j + residual(ω),
            ``residual`` being (B, K, 3) coefficients of this lighting or None when zero.
        """
        return None

    def parameter_layout(self) -> ParameterLayout:
        """The lighting's parameter group: ``light`` (B, K, 3), starting at :meth:`initial`."""
        return ParameterLayout([ParameterGroup(
            "light", (self.n_coeffs, 3), "lighting coefficients",
            initial=lambda batch, device: self.initial(batch).to(device), owner="lighting")])
