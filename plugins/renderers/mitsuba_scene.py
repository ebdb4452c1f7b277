"""Building Mitsuba 3 objects in facerecon's conventions (OpenCV camera frame = Mitsuba world).

Camera. Mitsuba's ``perspective`` sensor looks along its local +z with +y up, and film x/y grow
towards its local −x/−y. Its ``to_world`` is diag(−1, −1, 1) so that film x points along world
+x and film y along world +y: the world frame *is* our camera frame (x right, y down, +z
forward, mm). The horizontal field of view is 2·atan(W / 2f); a principal point (cx, cy) is
Mitsuba's ``principal_point_offset`` ((W/2 − cx)/W, (H/2 − cy)/H), in fractions of the film.
Pixels are box-filtered (each sample lands in its own pixel).

Light. Mitsuba's ``envmap`` reads a lat-long map whose local direction is
d = (sin φ sin θ, cos θ, −cos φ sin θ), θ = π·row/(H − 1) (rows at the poles) and
φ = 2π·(col + 0.5)/W, interpolated bilinearly. With the same ``to_world`` diag(−1, −1, 1), row 0
looks up (−y) and the centre column along +z as in :meth:`Lighting.environment_map`; each texel
holds ``lighting.radiance`` evaluated at *its own* world direction (:func:`envmap_directions`),
so the light the path tracer sees is the lighting's own, up to bilinear interpolation.

Textures. Mitsuba's bitmap row 0 lies at v = 0, ours at v = 1: texture coordinates are given to
Mitsuba as (u, 1 − v) and turned back for the uv output. Lookups are bilinear with clamped borders
at texel centres, as the rasterizer's ``grid_sample(align_corners=False, padding_mode="border")``.
"""
from __future__ import annotations

import math

import torch

__all__ = [
    "TO_WORLD", "envmap_directions", "sampler_type", "sensor_dict", "integrator_dict", "bitmap_dict", "pixel_rays",
]

#: Mitsuba's local frames (sensor, envmap) -> our camera frame.
TO_WORLD = ((-1.0, 0.0, 0.0, 0.0), (0.0, -1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))


def envmap_directions(height: int, width: int, device, dtype=torch.float32) -> torch.Tensor:
    """World (camera-frame) directions (height, width, 3) of the texels of Mitsuba's ``envmap``."""
    theta = torch.arange(height, device=device, dtype=torch.float64) * (math.pi / (height - 1))
    phi = (torch.arange(width, device=device, dtype=torch.float64) + 0.5) * (2.0 * math.pi / width)
    theta, phi = torch.meshgrid(theta, phi, indexing="ij")
    local = torch.stack([phi.sin() * theta.sin(), theta.cos(), -phi.cos() * theta.sin()], dim=-1)
    return (local * local.new_tensor([-1.0, -1.0, 1.0])).to(dtype)


def sampler_type(kind: str, spp: int) -> str:
    """Mitsuba sampler drawing exactly ``spp`` samples per pixel for ``kind`` (multijitter / independent).

    ``multijitter`` stratifies on a ⌈spp/s⌉ × s grid, s = ⌊√spp⌋, and rounds other counts up
    (32 -> 35); those use the low-discrepancy ``ldsampler`` when spp is a power of two, else
    ``independent``.
    """
    if kind != "multijitter":
        return kind
    side = math.isqrt(spp)
    if spp % side == 0:
        return "multijitter"
    return "ldsampler" if spp & (spp - 1) == 0 else "independent"


def sensor_dict(mi, width: int, height: int, focal: float, principal: tuple[float, float], spp: int,
                sampler: str = "multijitter", sample_border: bool = False) -> dict:
    """A ``perspective`` sensor for an OpenCV pinhole (focal in pixels, principal point in pixels).

    ``sample_border`` also traces a margin around the film, which projective integrators need to
    account for shapes entering or leaving the image.
    """
    cx, cy = principal
    return {
        "type": "perspective",
        "fov": math.degrees(2.0 * math.atan(0.5 * width / focal)),
        "fov_axis": "x",
        "principal_point_offset_x": (0.5 * width - cx) / width,
        "principal_point_offset_y": (0.5 * height - cy) / height,
        "near_clip": 1.0,
        "far_clip": 1e6,
        "to_world": mi.ScalarTransform4f(TO_WORLD),
        "film": {
            "type": "hdrfilm", "width": width, "height": height, "pixel_format": "rgba",
            "rfilter": {"type": "box"}, "sample_border": sample_border,
        },
        "sampler": {"type": sampler_type(sampler, spp), "sample_count": spp},
    }


def integrator_dict(kind: str, bounces: int) -> dict:
    """The integrator: ``max_depth`` counts the camera segment, so direct light is max_depth 2."""
    return {"type": kind, "max_depth": bounces + 1, "rr_depth": bounces + 2, "hide_emitters": True}


def bitmap_dict(mi, data) -> dict:
    """A raw (linear) bilinear, border-clamped bitmap texture from an (H, W, C) tensor."""
    return {"type": "bitmap", "data": mi.TensorXf(data), "raw": True, "filter_type": "bilinear", "wrap_mode": "clamp"}


def pixel_rays(mi, dr, width: int, height: int, focal: float, principal: tuple[float, float]):
    """One ray per pixel centre (row-major), from the camera centre, unit directions."""
    index = dr.arange(mi.UInt32, width * height)
    x = mi.Float(index % width) + 0.5
    y = mi.Float(index // width) + 0.5
    direction = dr.normalize(mi.Vector3f((x - principal[0]) / focal, (y - principal[1]) / focal, 1.0))
    return mi.Ray3f(mi.Point3f(0.0), direction)
