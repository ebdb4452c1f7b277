"""Built-in reflectance plugins (registration only: light, no torch import)."""
from __future__ import annotations

from dataclasses import dataclass

from facerecon import hookimpl, param


@dataclass(frozen=True)
class LambertianParams:
    """Parameters of the Lambertian reflectance (it has none: ρd/π)."""


@dataclass(frozen=True)
class CookTorranceParams:
    """Parameters of the cook-torrance reflectance."""

    roughness: float = param(0.4, "Roughness used where no roughness map is given (NextFace: 0.4).", gt=0, le=1)
    min_roughness: float = param(1e-3, "Roughness is clamped to [min_roughness, 1] (Phong exponent 2/r-2).", gt=0, lt=1)
    samples_theta: int = param(
        4, "Gauss-Legendre nodes in the lobe angle where shade() samples the light (SH bands l >= 3).", ge=1, le=64
    )
    samples_phi: int = param(8, "Azimuths per lobe angle where shade() samples the light (SH bands l >= 3).", ge=1, le=128)


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in reflectance models."""
    registry.register(
        "reflectance", "lambertian", params=LambertianParams,
        factory="plugins.reflectance.lambertian:Lambertian",
        summary="diffuse only: rho_d/pi, exact SH shading rho_d*E(n)/pi",
    )
    registry.register(
        "reflectance", "cook-torrance", params=CookTorranceParams,
        factory="plugins.reflectance.cook_torrance:CookTorrance",
        summary="redner's Cook-Torrance: Lambert + normalised Blinn-Phong, Smith-Beckmann, Schlick",
    )
