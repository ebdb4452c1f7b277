"""Regularisers of per-texel reflectance maps (NextFace's stage 3, DeepNextFace's decoders).

Every loss here reads ``inputs.textures`` ((B, T, T, C) maps), sums one term per map named in
its ``maps`` parameter, and restricts each term to the model's UV face region when the model
has a ``texel_mask`` attribute ((T*T,) bool); otherwise every texel counts.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
import torch.nn.functional as F

from facerecon.interfaces import Loss, LossInputs

__all__ = [
    "texel_mask",
    "masked_mean",
    "chromaticity",
    "TextureLoss",
    "TextureSymmetry",
    "TextureConsistency",
    "TextureChromaticity",
    "TextureSmoothness",
    "TextureRange",
]

# Keeps the chromaticity of near-black texels finite.
_CHROMA_EPS = 1e-3


def texel_mask(model: Any, texture: torch.Tensor) -> torch.Tensor | None:
    """The model's UV face region for ``texture`` (B, T, T, C): (T*T,) bool, or None for all texels."""
    mask = getattr(model, "texel_mask", None)
    if mask is None:
        return None
    texels = texture.shape[1] * texture.shape[2]
    if mask.numel() != texels:
        raise ValueError(
            f"model.texel_mask has {mask.numel()} entries, the {texture.shape[1]}² map has {texels}."
        )
    return mask.reshape(-1).to(device=texture.device, dtype=torch.bool)


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Per item, the mean of (B, N, C) ``values`` over the N-entries where ``mask`` (N,) is set
    (0 when none is) -> (B,)."""
    if mask is None:
        return values.flatten(1).mean(1)
    weights = mask.to(values.dtype)[None, :, None]
    count = weights.sum() * values.shape[2]
    return (values * weights).sum((1, 2)) / count.clamp(min=1.0)


def _flat(texture: torch.Tensor) -> torch.Tensor:
    """(B, T, T, C) -> (B, T*T, C)."""
    return texture.reshape(texture.shape[0], -1, texture.shape[-1])


class TextureLoss(Loss):
    """Base of the texture regularisers: map selection and the per-map sum (the params check the maps).

    Subclasses implement :meth:`term`; ``needs_base`` says whether ``base_textures`` is required.
    """

    needs_base = False

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """(B,): Σ over ``maps`` of :meth:`term`."""
        if inputs.textures is None:
            raise ValueError(f"{type(self).__name__} needs the current textures.")
        if self.needs_base and inputs.base_textures is None:
            raise ValueError(f"{type(self).__name__} needs base_textures (the statistical maps).")
        terms = []
        for name in self.params.maps:
            texture = getattr(inputs.textures, name)
            base = getattr(inputs.base_textures, name) if inputs.base_textures is not None else None
            if base is not None and base.shape[1:] != texture.shape[1:]:
                raise ValueError(
                    f"{name}: base map {tuple(base.shape)} and map {tuple(texture.shape)} differ."
                )
            terms.append(self.term(name, texture, base, inputs.model, texel_mask(inputs.model, texture)))
        return torch.stack(terms).sum(0)

    @abstractmethod
    def term(
        self, name: str, texture: torch.Tensor, base: torch.Tensor | None, model: Any, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """The (B,) term of one map.

        Args:
            name: map name (``diffuse``...).
            texture: (B, T, T, C) current map.
            base: (B or 1, T, T, C) statistical map, or None.
            model: the morphable model (or any object with ``texel_symmetry``), or None.
            mask: (T*T,) bool face texels, or None for all.
        """


class TextureSymmetry(TextureLoss):
    """mean |x − x[mirror]| over texels whose mirror is also in the face region.

    The mirror of texel i is ``model.texel_symmetry[i]`` (NextFace flips its UV map along u).
    """

    def term(self, name, texture, base, model, mask):
        symmetry = getattr(model, "texel_symmetry", None)
        if symmetry is None:
            raise ValueError("texture-symmetry needs a model with texel_symmetry (T*T,).")
        flat = _flat(texture)
        if symmetry.numel() != flat.shape[1]:
            raise ValueError(
                f"model.texel_symmetry has {symmetry.numel()} entries, the {name} map {flat.shape[1]} texels."
            )
        symmetry = symmetry.reshape(-1).to(device=texture.device, dtype=torch.long)
        pairs = None if mask is None else mask & mask[symmetry]
        return masked_mean((flat - flat[:, symmetry]).abs(), pairs)


class TextureConsistency(TextureLoss):
    """mean |x − base|: stay close to the statistical map (NextFace's consistency term)."""

    needs_base = True

    def term(self, name, texture, base, model, mask):
        return masked_mean((_flat(texture) - _flat(base)).abs(), mask)


def chromaticity(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3) rgb / (r + g + b) of the non-negative part, softened near black."""
    rgb = rgb.clamp(min=0)
    return rgb / (rgb.sum(-1, keepdim=True) + _CHROMA_EPS)


class TextureChromaticity(TextureLoss):
    """mean |chromaticity(x) − chromaticity(base)|: free brightness, constrained hue.

    NextFace compares CIE xy chromaticities (``X / (1 + X + Y + Z)``); plain rgb chromaticity
    does the same job without the colour-space constants.
    """

    needs_base = True

    def term(self, name, texture, base, model, mask):
        return masked_mean((chromaticity(_flat(texture)) - chromaticity(_flat(base))).abs(), mask)


class TextureSmoothness(TextureLoss):
    """Mean |Δ| (l1) or Δ² (l2) between vertical neighbours plus the same between horizontal ones.

    Only pairs of texels both in the face region count.
    """

    def term(self, name, texture, base, model, mask):
        grid = None if mask is None else mask.view(texture.shape[1], texture.shape[2])
        total = texture.new_zeros(texture.shape[0])
        for axis in (1, 2):
            diff = texture.diff(dim=axis)
            pairs = None
            if grid is not None:
                pairs = (grid[1:] & grid[:-1]) if axis == 1 else (grid[:, 1:] & grid[:, :-1])
                pairs = pairs.reshape(-1)
            penalty = diff.abs() if self.params.norm == "l1" else diff.pow(2)
            total = total + masked_mean(_flat(penalty), pairs)
        return total


class TextureRange(TextureLoss):
    """mean(relu(lo − x) + relu(x − hi)) squared (l2) or not (l1); albedo in [0, 1]."""

    def term(self, name, texture, base, model, mask):
        low, high = self.params.roughness_range if name == "roughness" else (0.0, 1.0)
        excess = F.relu(low - texture) + F.relu(texture - high)
        penalty = excess if self.params.norm == "l1" else excess.pow(2)
        return masked_mean(_flat(penalty), mask)
