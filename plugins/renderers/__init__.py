"""Built-in renderer plugins (registration only: light, no torch import)."""
from __future__ import annotations

from dataclasses import dataclass

from facerecon import hookimpl, param


@dataclass(frozen=True)
class RasterizerParams:
    """Parameters of the pure-PyTorch rasterizer."""

    image_size: int = param(
        256, "Side of the square crops tasks render at; the render itself has the camera's width x height."
    )
    cull_backfaces: bool = param(False, "Skip triangles facing away from the camera (the mesh need not be closed).")
    antialias: bool = param(
        True, "Blend silhouette pixels with the background by analytic edge coverage (silhouette gradients)."
    )
    background: tuple[float, float, float] = param((0.0, 0.0, 0.0), "Linear RGB of pixels no triangle covers.")
    chunk_size: int = param(
        1 << 21, "Most (triangle, pixel) candidates the visibility pass handles at once (bounds memory)."
    )


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in renderers."""
    registry.register(
        "renderer", "rasterizer", params=RasterizerParams, factory="plugins.renderers.rasterizer:Rasterizer",
        summary="pure-PyTorch z-buffer rasterizer: perspective-correct, textured, SH-shaded, antialiased silhouettes",
    )
