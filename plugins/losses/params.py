"""Parameters of the built-in losses (light: no torch import).

Every loss returns its unweighted value; ``weight`` is applied by the stage that sums the terms.
Reference settings are quoted in the docs: NextFace (``optimizer.py``, ``textureloss.py``,
``optimConfig.ini``) and Deep3DFaceRecon (``models/losses.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
import typing
from typing import Literal

from facerecon import param

__all__ = [
    "TEXTURE_MAPS",
    "MapName",
    "RGBMapName",
    "LandmarkParams",
    "PhotometricParams",
    "GaussianPriorParams",
    "SHPriorParams",
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

_WEIGHT_DOC = "Multiplier the stage applies to this term (the loss itself returns the unweighted value)."


def _all_maps() -> list[str]:
    return list(TEXTURE_MAPS)


@dataclass(frozen=True)
class LandmarkParams:
    """Weighted mean squared distance between projected and detected iBUG-68 landmarks."""

    weight: float = param(1.0, _WEIGHT_DOC)
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
    point_weights: dict[str, float] = param(
        doc="Weight per iBUG group (jaw, brows, nose, eyes, mouth, inner_mouth); unnamed groups "
        "weigh 1. Deep3DFaceRecon-like: {nose: 20, inner_mouth: 20}.",
        factory=dict,
    )
    use_confidence: bool = param(
        True,
        "Multiply each point's weight by the landmark detector's confidence in it, when the detector "
        "gives one (hidden contour points of a turned head then pull nothing).",
    )


@dataclass(frozen=True)
class PhotometricParams:
    """Masked difference between the render and the linear input image."""

    weight: float = param(1.0, _WEIGHT_DOC)
    norm: Literal["l1", "l2", "euclidean"] = param(
        "l1",
        "Per-pixel error: l1 = mean |Δ| over RGB (NextFace), l2 = mean Δ² over RGB, "
        "euclidean = ‖Δ‖ of the RGB vector (Deep3DFaceRecon).",
    )
    blur_sigma: float = param(
        0.0,
        "Standard deviation in pixels of the Gaussian blur applied to the render; 0 = none. "
        "NextFace's 3x3 'sigma 1' kernel is a true Gaussian of sigma sqrt(2): use 1.414 with blur_size 3.",
    )
    blur_size: int = param(0, "Odd side of the blur kernel; 0 = 2*ceil(3*sigma) + 1.")
    mask_gradients: bool = param(
        False,
        "Let gradients flow through the renderer's coverage mask; off, the mask only selects pixels.",
    )


@dataclass(frozen=True)
class GaussianPriorParams:
    """Sum over coefficient groups of weight * mean(c^2), coefficients in std-dev units."""

    weight: float = param(1.0, _WEIGHT_DOC)
    groups: dict[str, float] = param(
        doc="Relative weight per coefficient name; names absent from a step are skipped. "
        "Deep3DFaceRecon: {identity: 1, expression: 0.8, albedo: 0.017}.",
        factory=lambda: {"identity": 1.0, "expression": 1.0, "albedo": 1.0},
    )


@dataclass(frozen=True)
class SHPriorParams:
    """Mean squared spherical-harmonics light coefficient (NextFace: weight 1e-4)."""

    weight: float = param(1.0, _WEIGHT_DOC)
    exclude_dc: bool = param(False, "Leave the constant (l = 0) coefficient unpenalised.")
    monochrome: bool = param(
        False,
        "Penalise each coefficient's deviation from its RGB mean (Deep3DFaceRecon's light-colour "
        "term, weight 10) instead of its magnitude.",
    )


@dataclass(frozen=True)
class TextureSymmetryParams:
    """Mean |map - mirrored map| over the face texels (NextFace weights 300/200/200)."""

    weight: float = param(1.0, _WEIGHT_DOC)
    maps: list[MapName] = param(doc="Maps to regularise (diffuse, specular, roughness); terms add up.",
                            factory=_all_maps)


@dataclass(frozen=True)
class TextureConsistencyParams:
    """Mean |map - statistical map| over the face texels (NextFace weights 100/2/0)."""

    weight: float = param(1.0, _WEIGHT_DOC)
    maps: list[MapName] = param(doc="Maps to regularise (diffuse, specular, roughness); terms add up.",
                            factory=_all_maps)


@dataclass(frozen=True)
class TextureChromaticityParams:
    """Mean |chromaticity(map) - chromaticity(statistical map)|, chromaticity = rgb / (r + g + b)."""

    weight: float = param(1.0, _WEIGHT_DOC)
    maps: list[RGBMapName] = param(doc="RGB maps to regularise (diffuse, specular); terms add up.",
                            factory=lambda: ["diffuse"])


@dataclass(frozen=True)
class TextureSmoothnessParams:
    """Finite differences between neighbouring face texels in UV space."""

    weight: float = param(1.0, _WEIGHT_DOC)
    maps: list[MapName] = param(doc="Maps to regularise (diffuse, specular, roughness); terms add up.",
                            factory=_all_maps)
    norm: Literal["l1", "l2"] = param(
        "l2",
        "l1 = mean |difference| (total variation), l2 = mean squared difference (NextFace, which "
        "sums instead of averaging).",
    )


@dataclass(frozen=True)
class TextureRangeParams:
    """Penalty for texel values outside their valid range."""

    weight: float = param(1.0, _WEIGHT_DOC)
    maps: list[MapName] = param(doc="Maps to regularise (diffuse, specular, roughness); terms add up.",
                            factory=_all_maps)
    roughness_range: tuple[float, float] = param(
        (0.05, 1.0), "Valid [min, max] roughness; diffuse and specular albedo must lie in [0, 1]."
    )
    norm: Literal["l1", "l2"] = param(
        "l2",
        "Penalty on the excess: l2 = mean squared (smooth), l1 = mean absolute (NextFace, weight 1000).",
    )


@dataclass(frozen=True)
class ShapeTruthParams:
    """Mean distance (mm) between the predicted and the true model-frame shape: supervision for
    training on synthetic faces, whose ground truth the train task passes in ``extras["truth"]``."""

    weight: float = param(1.0, _WEIGHT_DOC)
    region: Literal["face", "all"] = param("face", "Vertices compared: the model's face region, or all.")
