"""How random ground-truth faces are drawn (:func:`facerecon.evaluation.draw.draw_truth`).

A light module (no array library), so plugin registrations can nest :class:`DrawSettings` in
their parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..params import ParamError, param

__all__ = ["DrawSettings", "BACKGROUNDS"]

#: scikit-image images (``skimage.data.<name>``) that show no human face and need no download: the
#: backgrounds of synthetic face photos (:func:`facerecon.evaluation.backgrounds.background`).
BACKGROUNDS = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "coins", "moon", "clock",
               "hubble_deep_field", "immunohistochemistry")


@dataclass(frozen=True)
class DrawSettings:
    """Distributions of the random faces: shape, pose, camera, light and skin."""

    image_size: tuple[int, int] = param((512, 512), "Photo width and height in pixels.", ge=16, le=8192)
    identity_std: float = param(1.0, "Identity coefficients are N(0, identity_std²) in the model's standard deviations.",
                                ge=0, le=10)
    expression_std: float = param(1.0, "Expression coefficients are N(0, expression_std²) in standard deviations.",
                                  ge=0, le=10)
    coefficient_limit: float = param(3.0, "Coefficients are clipped to ± this many standard deviations.", gt=0)
    yaw_deg: float = param(45.0, "Head yaw is uniform in ± this many degrees (0: facing the camera).", ge=0, le=90)
    pitch_deg: float = param(15.0, "Head pitch is uniform in ± this many degrees.", ge=0, le=90)
    roll_deg: float = param(10.0, "Head roll is uniform in ± this many degrees.", ge=0, le=180)
    face_px: tuple[float, float] = param(
        (150.0, 250.0), "Range of the face width in pixels (a nominal 150 mm at the head's distance).", gt=0)
    focal: tuple[float, float] = param((1.2, 2.5), "Range of the focal length, in units of the photo width.", gt=0)
    offset: float = param(0.15, "The head centre projects up to this fraction of the photo size from its centre.",
                          ge=0, le=0.5)
    sun_angle_deg: float = param(70.0, "Largest angle between the sun and the direction towards the camera.",
                                 ge=0, le=180)
    sun_irradiance: tuple[float, float] = param((2.2, 3.6), "Range of the sun's irradiance (linear, before its tint).",
                                                ge=0)
    ambient_radiance: tuple[float, float] = param((0.12, 0.35), "Range of the uniform ambient radiance (linear).", ge=0)
    skin_tone: tuple[float, float] = param(
        (0.0, 0.85), "Range of the skin tone: 0 is the lightest, 1 the darkest of the palette.", ge=0, le=1)
    specular: tuple[float, float] = param((0.02, 0.045), "Range of the skin's specular reflectance at normal incidence.",
                                          ge=0, le=0.08)
    roughness: tuple[float, float] = param((0.35, 0.6), "Range of the skin's roughness (GGX alpha = roughness²).",
                                           gt=0, le=1)
    texture_size: int = param(512, "Side of the painted diffuse albedo map in texels.", ge=16, le=8192)

    def __post_init__(self) -> None:
        for name in ("face_px", "focal", "sun_irradiance", "ambient_radiance", "skin_tone", "specular", "roughness"):
            low, high = getattr(self, name)
            if low > high:
                raise ParamError(name, f"must be a range (low, high) with low <= high, got ({low}, {high})")
