"""Built-in renderer plugins (registration only: light, no torch import)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facerecon import hookimpl, param


@dataclass(frozen=True)
class RasterizerParams:
    """Parameters of the pure-PyTorch rasterizer."""

    cull_backfaces: bool = param(
        True, "Skip triangles facing away from the camera; False shades them with their away-facing normals."
    )
    antialias: bool = param(
        True, "Blend silhouette pixels with the background by analytic edge coverage (silhouette gradients)."
    )
    background: tuple[float, float, float] = param((0.0, 0.0, 0.0), "Linear RGB of pixels no triangle covers.", ge=0)
    chunk_size: int = param(
        1 << 21, "Most (triangle, pixel) candidates the visibility pass handles at once (bounds memory).", ge=1
    )


@dataclass(frozen=True)
class RednerParams:
    """Parameters of the redner path tracer (legacy; needs pyredner built from source: `make redner`)."""

    spp: int = param(8, "Samples per pixel in the forward and the backward pass (NextFace: 8 while optimising).", ge=1)
    max_bounces: int = param(1, "Path length, >= 1: 1 = direct lighting only (NextFace), 2+ adds interreflections.", ge=1)
    envmap_height: int = param(64, "Rows of the lat-long environment map built from the light (columns: twice that).",
                               ge=2, le=4096)
    sampler: Literal["independent", "sobol"] = param("sobol", "redner's sample pattern.")
    seed: int = param(0, "Base random seed; batch item b of render call k uses seed + k*B + b.", ge=0)
    reseed: bool = param(True, "Draw new samples on every render call (False: the same scene renders the same noise).")
    primary_edge_sampling: bool = param(
        False, "Silhouette gradients (vertices, pose, focal, mask) by redner's edge sampling; without it those "
        "gradients hold the interior terms only, like the rasterizer without antialiasing.",
    )
    secondary_edge_sampling: bool = param(False, "Gradients of shadow boundaries by redner's secondary edge sampling (slow).")
    gpu: bool = param(
        False, "Trace CUDA scenes with redner's GPU path (needs a CUDA + OptiX Prime build); False: on the CPU."
    )


@dataclass(frozen=True)
class MitsubaParams:
    """Parameters of the Mitsuba 3 path tracer."""

    spp: int = param(8, "Samples per pixel (NextFace and DeepNextFace trace 8 while optimising).", ge=1)
    bounces: int = param(
        1, "Light bounces: 1 = direct light with self-shadowing (NextFace); Mitsuba's max_depth is bounces + 1.", ge=1
    )
    seed: int = param(0, "Seed of the first item rendered; each further item and call adds 1 so the noise differs.", ge=0)
    integrator: Literal["prb", "prb_projective", "path"] = param(
        "prb", "prb: gradients inside silhouettes; prb_projective: plus silhouette gradients (slow); path: no gradients."
    )
    sampler: Literal["multijitter", "independent"] = param(
        "multijitter",
        "Sample pattern: stratified multi-jittered (ldsampler for spp 2^odd, e.g. 32; much less noise) or independent.",
    )
    background: tuple[float, float, float] = param((0.0, 0.0, 0.0), "Linear RGB of pixels no ray hits.", ge=0)
    envmap_height: int = param(
        64, "Rows of the lat-long map the light is tabulated on for Mitsuba's envmap (width is twice that).", ge=4, le=4096
    )
    cull_backfaces: bool = param(
        True, "Leave triangles facing away from the camera out of the scene (as the rasterizer culls them); "
        "False keeps them, black (the BSDF is one-sided) and casting shadows.",
    )


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in renderers."""
    registry.register(
        "renderer", "rasterizer", params=RasterizerParams, factory="plugins.renderers.rasterizer:Rasterizer",
        summary="pure-PyTorch z-buffer rasterizer: perspective-correct, textured, SH-shaded, antialiased silhouettes",
    )
    registry.register(
        "renderer", "mitsuba", params=MitsubaParams, factory="plugins.renderers.mitsuba_renderer:MitsubaRenderer",
        summary="Mitsuba 3 path tracer (Dr.Jit, CPU/CUDA): redner's Cook-Torrance, SH envmap, self-shadowing, dr.wrap",
    )
    registry.register(
        "renderer", "redner", params=RednerParams, factory="plugins.renderers.redner_renderer:Redner",
        summary="redner path tracer (legacy, NextFace's): SH envmap, Cook-Torrance; needs pyredner built from source",
        check="plugins.renderers.redner_setup:missing",
    )
