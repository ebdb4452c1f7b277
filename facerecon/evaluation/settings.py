"""How random ground-truth faces are drawn (:func:`facerecon.evaluation.draw.draw_truth`).

A light module (no array library), so plugin registrations can nest :class:`DrawSettings` in
their parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..params import param

__all__ = ["DrawSettings"]


@dataclass(frozen=True)
class DrawSettings:
    """Distributions of the random faces: shape, pose, camera, light and skin."""

    image_size: tuple[int, int] = param((512, 512), "Photo width and height in pixels.")
    identity_std: float = param(1.0, "Identity coefficients are N(0, identity_std²) in the model's standard deviations.")
    expression_std: float = param(1.0, "Expression coefficients are N(0, expression_std²) in standard deviations.")
    coefficient_limit: float = param(3.0, "Coefficients are clipped to ± this many standard deviations.")
    yaw_deg: float = param(45.0, "Head yaw is uniform in ± this many degrees (0: facing the camera).")
    pitch_deg: float = param(15.0, "Head pitch is uniform in ± this many degrees.")
    roll_deg: float = param(10.0, "Head roll is uniform in ± this many degrees.")
    face_px: tuple[float, float] = param(
        (150.0, 250.0), "Range of the face width in pixels (a nominal 150 mm at the head's distance).")
    focal: tuple[float, float] = param((1.2, 2.5), "Range of the focal length, in units of the photo width.")
    offset: float = param(0.15, "The head centre projects up to this fraction of the photo size from its centre.")
    sun_angle_deg: float = param(70.0, "Largest angle between the sun and the direction towards the camera.")
    sun_irradiance: tuple[float, float] = param((2.2, 3.6), "Range of the sun's irradiance (linear, before its tint).")
    ambient_radiance: tuple[float, float] = param((0.12, 0.35), "Range of the uniform ambient radiance (linear).")
    skin_tone: tuple[float, float] = param(
        (0.0, 0.85), "Range of the skin tone: 0 is the lightest, 1 the darkest of the palette.")
    specular: tuple[float, float] = param((0.02, 0.045), "Range of the skin's specular reflectance at normal incidence.")
    roughness: tuple[float, float] = param((0.35, 0.6), "Range of the skin's roughness (GGX alpha = roughness²).")
    texture_size: int = param(512, "Side of the painted diffuse albedo map in texels.")
