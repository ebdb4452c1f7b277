"""Built-in lighting plugins (registration only: light, no torch import)."""
from __future__ import annotations

from dataclasses import dataclass

from facerecon import hookimpl, param


@dataclass(frozen=True)
class SHParams:
    """Parameters of the spherical-harmonics lighting."""

    bands: int = param(3, "Number of SH bands L+1 (3 -> 9 coefficients per channel, 9 -> 81).", ge=1, le=16)
    ambient: float = param(
        1.0, "Initial constant radiance (white); a Lambert surface of albedo a then reflects a*ambient.", ge=0
    )

    def parameter_groups(self) -> dict[str, str]:
        """The optimisable parameter group of this lighting: ``light``."""
        return {"light": f"SH lighting coefficients ({self.bands ** 2} per RGB channel)"}


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in lighting."""
    registry.register(
        "lighting", "sh", params=SHParams, factory="plugins.lighting.sh:SHLighting",
        summary="distant light as real spherical-harmonics radiance (camera frame), any number of bands",
    )
