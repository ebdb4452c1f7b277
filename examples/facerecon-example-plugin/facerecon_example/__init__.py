"""facerecon-example-plugin: registration only (no torch import here; implementations load lazily).

facerecon imports this module through the ``facerecon`` entry point (see pyproject.toml) and
calls :func:`facerecon_register_components`; the ``factory`` strings are imported only when a
recipe builds the component.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facerecon import hookimpl, param

__version__ = "0.1.0"


@dataclass(frozen=True)
class TotalVariationParams:
    """Total variation of the rendered image over the pixels the face covers."""

    weight: float = param(1.0, "Multiplier the stage applies to this term.", ge=0)
    norm: Literal["l1", "l2"] = param(
        "l1", "Penalty of a neighbour difference: l1 = |d| (keeps edges), l2 = d² (smooths more)."
    )
    use_region: bool = param(
        True, "Also restrict to the loss inputs' face region (skin mask) when one is given."
    )


@dataclass(frozen=True)
class XyzParams:
    """Point cloud as text: one 'x y z [nx ny nz]' line per vertex, camera frame, mm."""

    filename: str = param("mesh", "File stem of the .xyz file.")
    normals: bool = param(True, "Append the unit vertex normal to every line.")
    precision: int = param(4, "Decimal places written per coordinate.", ge=0, le=17)


@hookimpl
def facerecon_register_components(registry):
    """Register the example loss and exporter."""
    registry.register("loss", "example-tv", params=TotalVariationParams,
                      factory="facerecon_example.tv:TotalVariationLoss",
                      summary="total variation of the render inside the face mask (example plugin)")
    registry.register("exporter", "xyz", params=XyzParams, factory="facerecon_example.xyz:XyzExporter",
                      summary="mesh.xyz point cloud with normals (example plugin)")
