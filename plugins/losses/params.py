"""Parameters of the built-in losses (light: no torch import).

Every loss returns its unweighted value; ``weight`` is applied by the stage that sums the terms.
Reference settings are quoted in the docs: NextFace (``optimizer.py``, ``textureloss.py``,
``optimConfig.ini``) and Deep3DFaceRecon (``models/losses.py``).
"""
from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

from facerecon import GroupName, ParamError, param
from facerecon.landmarks import IBUG68_GROUPS, N_LANDMARKS, NEXTFACE_DROPPED_JAW

__all__ = [
    "TEXTURE_MAPS",
    "MapName",
    "RGBMapName",
    "LandmarkGroup",
    "point_weights",
    "LandmarkParams",
    "PhotometricParams",
    "GaussianPriorParams",
    "SHPriorParams",
    "SizePriorParams",
    "TextureSymmetryParams",
    "TextureConsistencyParams",
    "TextureChromaticityParams",
    "TextureSmoothnessParams",
    "TextureRangeParams",
    "ShapeTruthParams",
]

#: A map of :class:`facerecon.interfaces.Textures`, and the RGB ones.
MapName = Literal["diffuse", "specular", "roughness"]
RGBMapName = Literal["diffuse", "specular"]
TEXTURE_MAPS: tuple[str, ...] = typing.get_args(MapName)
#: A part of the iBUG-68 layout (:data:`facerecon.landmarks.IBUG68_GROUPS`).
LandmarkGroup = Literal[tuple(IBUG68_GROUPS)]  # type: ignore[valid-type]

_WEIGHT_DOC = "Multiplier the stage applies to this term (the loss itself returns the unweighted value)."


def _all_maps() -> list[str]:
    return list(TEXTURE_MAPS)


def _check_maps(maps: list[str]) -> None:
    if not maps:
        raise ParamError("maps", "names no map; give at least one")
    repeated = sorted({m for m in maps if maps.count(m) > 1})
    if repeated:
        raise ParamError("maps", f"names {', '.join(repeated)} more than once")


def point_weights(jaw: str, group_weights: dict[str, float]) -> list[float]:
    """Weight of each of the 68 points: its group's weight (1 when unnamed), 0 for the jaw points
    left out (``jaw``: all, upper = without :data:`~facerecon.landmarks.NEXTFACE_DROPPED_JAW`, none)."""
    weights = [1.0] * N_LANDMARKS
    for name, indices in IBUG68_GROUPS.items():
        for i in indices:
            weights[i] = float(group_weights.get(name, 1.0))
    dropped = {"all": (), "upper": NEXTFACE_DROPPED_JAW, "none": IBUG68_GROUPS["jaw"]}[jaw]
    for i in dropped:
        weights[i] = 0.0
    return weights


@dataclass(frozen=True)
class LandmarkParams:
    """Weighted mean squared distance between projected and detected iBUG-68 landmarks."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    normalize: Literal["none", "image", "eyes"] = param(
        "none",
        "Distance unit: none = pixels (NextFace), image = the image side max(H, W), "
        "eyes = the detected outer-eye-corner distance (scale-free).",
    )
    jaw: Literal["all", "upper", "none"] = param(
        "upper",
        "Jaw contour points used: all 17, upper = without the sliding lower contour points "
        "4, 5, 6, 10, 11, 12 (NextFace's choice), or none.",
    )
    point_weights: dict[LandmarkGroup, float] = param(
        doc="Weight per iBUG group (jaw, brows, nose, eyes, mouth, inner_mouth); unnamed groups "
        "weigh 1. Deep3DFaceRecon-like: {nose: 20, inner_mouth: 20}.",
        factory=dict,
        ge=0,
    )
    use_confidence: bool = param(
        True,
        "Multiply each point's weight by the landmark detector's confidence in it, when the detector "
        "gives one (hidden contour points of a turned head then pull nothing).",
    )
    fade_turned_jaw: bool = param(
        True,
        "On a turned head, fade the jaw contour points (0-16) out: their weight falls from 1 at 25° "
        "to 0 at 45° of yaw estimated from the detected landmarks (see facerecon.contour); a "
        "detector's contour then no longer lies on the model's fixed jaw vertices.",
    )

    def __post_init__(self) -> None:
        if not any(point_weights(self.jaw, self.point_weights)):
            raise ParamError("point_weights", f"every point weighs 0 (jaw: {self.jaw}); give some group a weight > 0")


@dataclass(frozen=True)
class PhotometricParams:
    """Masked difference between the render and the linear input image."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    norm: Literal["l1", "l2", "euclidean"] = param(
        "l1",
        "Per-pixel error: l1 = mean |Δ| over RGB (NextFace), l2 = mean Δ² over RGB, "
        "euclidean = ‖Δ‖ of the RGB vector (Deep3DFaceRecon).",
    )
    blur_sigma: float = param(
        0.0,
        "Standard deviation in pixels of the Gaussian blur applied to the render; 0 = none. "
        "NextFace's 3x3 'sigma 1' kernel is a true Gaussian of sigma sqrt(2): use 1.414 with blur_size 3.",
        ge=0,
        le=100,
    )
    blur_size: int = param(0, "Odd side of the blur kernel; 0 = 2*ceil(3*sigma) + 1.", ge=0, le=1001)
    mask_gradients: bool = param(
        False,
        "Let gradients flow through the renderer's coverage mask; off, the mask only selects pixels.",
    )

    def __post_init__(self) -> None:
        if self.blur_size % 2 == 0 and self.blur_size != 0:
            raise ParamError("blur_size", f"must be odd (or 0 for 2*ceil(3*sigma) + 1), got {self.blur_size}")


@dataclass(frozen=True)
class GaussianPriorParams:
    """Sum over coefficient groups of weight * mean(c^2), coefficients in std-dev units."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    groups: dict[GroupName, float] = param(
        doc="Relative weight per parameter group; empty: every coefficient group of the model "
        "(identity, expression, and albedo when it has one) with weight 1. "
        "Deep3DFaceRecon: {identity: 1, expression: 0.8, albedo: 0.017}.",
        factory=dict,
        ge=0,
    )


@dataclass(frozen=True)
class SizePriorParams:
    """Keeps the head's overall size at the model's mean: one photo cannot tell a large head far
    away from a small one nearby, so the identity should change the face's shape, not its size."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    tolerance: float = param(
        0.01, "Relative size change (0.01 = 1 %) that costs 1: the loss is (change / tolerance)².", gt=0, le=1)


@dataclass(frozen=True)
class SHPriorParams:
    """Mean squared spherical-harmonics light coefficient (NextFace: weight 1e-4)."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    exclude_dc: bool = param(False, "Leave the constant (l = 0) coefficient unpenalised.")
    monochrome: bool = param(
        False,
        "Penalise each coefficient's deviation from its RGB mean (Deep3DFaceRecon's light-colour "
        "term, weight 10) instead of its magnitude.",
    )


@dataclass(frozen=True)
class TextureSymmetryParams:
    """Mean |map - mirrored map| over the face texels (NextFace weights 300/200/200)."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    maps: list[MapName] = param(doc="Maps to regularise (diffuse, specular, roughness); terms add up.",
                            factory=_all_maps)

    def __post_init__(self) -> None:
        _check_maps(self.maps)


@dataclass(frozen=True)
class TextureConsistencyParams:
    """Mean |map - statistical map| over the face texels (NextFace weights 100/2/0)."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    maps: list[MapName] = param(doc="Maps to regularise (diffuse, specular, roughness); terms add up.",
                            factory=_all_maps)

    def __post_init__(self) -> None:
        _check_maps(self.maps)


@dataclass(frozen=True)
class TextureChromaticityParams:
    """Mean |chromaticity(map) - chromaticity(statistical map)|, chromaticity = rgb / (r + g + b)."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    maps: list[RGBMapName] = param(doc="RGB maps to regularise (diffuse, specular); terms add up.",
                            factory=lambda: ["diffuse"])

    def __post_init__(self) -> None:
        _check_maps(self.maps)


@dataclass(frozen=True)
class TextureSmoothnessParams:
    """Finite differences between neighbouring face texels in UV space."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    maps: list[MapName] = param(doc="Maps to regularise (diffuse, specular, roughness); terms add up.",
                            factory=_all_maps)
    norm: Literal["l1", "l2"] = param(
        "l2",
        "l1 = mean |difference| (total variation), l2 = mean squared difference (NextFace, which "
        "sums instead of averaging).",
    )

    def __post_init__(self) -> None:
        _check_maps(self.maps)


@dataclass(frozen=True)
class TextureRangeParams:
    """Penalty for texel values outside their valid range."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    maps: list[MapName] = param(doc="Maps to regularise (diffuse, specular, roughness); terms add up.",
                            factory=_all_maps)
    roughness_range: tuple[float, float] = param(
        (0.05, 1.0), "Valid [min, max] roughness; diffuse and specular albedo must lie in [0, 1].", ge=0, le=1
    )
    norm: Literal["l1", "l2"] = param(
        "l2",
        "Penalty on the excess: l2 = mean squared (smooth), l1 = mean absolute (NextFace, weight 1000).",
    )

    def __post_init__(self) -> None:
        _check_maps(self.maps)
        low, high = self.roughness_range
        if not low < high:
            raise ParamError("roughness_range", f"must be [min, max] with min < max, got [{low}, {high}]")

@dataclass(frozen=True)
class ShapeTruthParams:
    """Mean distance (mm) between the predicted and the true model-frame shape: supervision for
    training on synthetic faces, whose ground truth the train task passes in ``extras["truth"]``."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
    region: Literal["face", "all"] = param("face", "Vertices compared: the model's face region, or all.")
    distance: Literal["euclidean", "squared"] = param(
        "euclidean", "Per-vertex term: the distance (mm), or its square (mm²). Squared errors keep what a crop "
        "cannot show (the head's size) from drowning the rest: their gradient is the sum of each coefficient's "
        "own, so an unpredictable part averages out over the faces instead of turning every vertex's pull.")


@dataclass(frozen=True)
class LightTruthParams:
    """Squared distance between the predicted and the true light coefficients: supervision of the
    light for training on synthetic faces, whose ground truth the train task passes in ``extras["truth"]``."""

    weight: float = param(1.0, _WEIGHT_DOC, ge=0)
