"""Built-in loss plugins (registration only: light, no torch import).

The terms of NextFace's three stages and of Deep3DFaceRecon's objective, one component each;
a stage sums ``weight * loss(inputs)`` over the losses named in its recipe.
"""
from __future__ import annotations

from facerecon import hookimpl

from .params import (
    GaussianPriorParams,
    LandmarkParams,
    LightTruthParams,
    PhotometricParams,
    SHPriorParams,
    SizePriorParams,
    ShapeTruthParams,
    TextureChromaticityParams,
    TextureConsistencyParams,
    TextureRangeParams,
    TextureSmoothnessParams,
    TextureSymmetryParams,
)

_LOSSES = (
    ("landmark", LandmarkParams, "landmark:LandmarkLoss",
     "weighted mean squared 2D distance to detected iBUG-68 landmarks"),
    ("photometric", PhotometricParams, "photometric:PhotometricLoss",
     "masked L1/L2 difference between the (optionally blurred) render and the linear photo"),
    ("gaussian-prior", GaussianPriorParams, "priors:GaussianPrior",
     "mean squared morphable-model coefficients (std-dev units) per named group"),
    ("sh-prior", SHPriorParams, "priors:SHPrior",
     "mean squared SH light coefficients, or their deviation from grey"),
    ("size-prior", SizePriorParams, "priors:SizePrior",
     "squared relative change of the head's overall size that the identity coefficients make"),
    ("texture-symmetry", TextureSymmetryParams, "textures:TextureSymmetry",
     "mean |map - mirrored map| over the UV face region"),
    ("texture-consistency", TextureConsistencyParams, "textures:TextureConsistency",
     "mean |map - statistical map| over the UV face region"),
    ("texture-chromaticity", TextureChromaticityParams, "textures:TextureChromaticity",
     "chromaticity rgb/(r+g+b) of a map kept close to the statistical map's"),
    ("texture-smoothness", TextureSmoothnessParams, "textures:TextureSmoothness",
     "finite differences between neighbouring texels"),
    ("texture-range", TextureRangeParams, "textures:TextureRange",
     "penalty for texel values outside [0, 1] (roughness: its own range)"),
    ("shape-truth", ShapeTruthParams, "truth:ShapeTruth",
     "mean distance (mm) to the true shape of synthetic faces (supervised pre-training)"),
    ("light-truth", LightTruthParams, "truth:LightTruth",
     "squared distance to the true light coefficients of synthetic faces (supervised pre-training)"),
)


#: Components a loss works only with, by recipe slot.
_NEEDS = {"sh-prior": {"light": ("sh",)}}


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in losses."""
    for name, params, factory, summary in _LOSSES:
        registry.register("loss", name, params=params, factory=f"{__name__}.{factory}", summary=summary,
                          needs=_NEEDS.get(name))
