"""Interface of morphable models."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from ..layout import TEXTURE_CHANNELS, ParameterGroup, ParameterLayout
from .base import ComponentBase
from .data import Textures

__all__ = ["MorphableModel"]


class MorphableModel(ComponentBase, ABC):
    """A statistical face model: shape from identity + expression coefficients, reflectance maps.

    Coefficients are in units of standard deviations (a N(0, 1) prior). Geometry is in the
    model frame: mm, y up, +z pointing out of the face, origin near the head centre.

    Attributes (set by implementations, on ``self.device``):
        n_identity, n_expression, n_albedo: coefficient counts (n_albedo may be 0).
        faces: (F, 3) long triangles.
        uvs: (V, 2) texture coordinates in [0, 1].
        landmarks: (68,) long vertex index of each iBUG-68 landmark.
        face_mask: (V,) bool, the face region used by photometric losses.
        symmetry: (V,) long, the mirror vertex of each vertex (left <-> right).
        texel_symmetry: (T*T,) long, flat index of the mirror texel of each texel.
        texture_size: T, side of the square texture maps.
    """

    n_identity: int
    n_expression: int
    n_albedo: int
    faces: torch.Tensor
    uvs: torch.Tensor
    landmarks: torch.Tensor
    face_mask: torch.Tensor
    symmetry: torch.Tensor
    texel_symmetry: torch.Tensor
    texture_size: int

    @property
    def n_vertices(self) -> int:
        """Number of vertices V."""
        return int(self.uvs.shape[0])

    @abstractmethod
    def shape(
        self, identity: torch.Tensor, expression: torch.Tensor, indices: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Vertices from coefficients.

        Args:
            identity: (B, n_identity); expression: (B, n_expression).
            indices: (N,) long vertex indices to compute only those (e.g. the landmarks), or None.
        Returns:
            (B, V, 3) (or (B, N, 3)) model-frame vertices in mm.
        """

    @abstractmethod
    def textures(self, albedo: torch.Tensor | None, batch: int) -> Textures:
        """Statistical reflectance maps.

        Args:
            albedo: (B, n_albedo) coefficients, or None for the mean.
            batch: B, used when ``albedo`` is None.
        Returns:
            :class:`Textures` with (B, T, T, C) linear maps.
        """

    def parameter_layout(self) -> ParameterLayout:
        """The model's parameter groups: identity and expression (B, K) in standard deviations with
        a N(0, 1) prior, albedo likewise when ``n_albedo > 0``, and ``textures``: per-texel offsets
        (B, T, T, 7) added to the statistical maps (diffuse 3, specular 3, roughness 1 channels,
        see :data:`facerecon.layout.TEXTURE_CHANNELS`), starting at 0.

        Override to declare other groups; :meth:`shape` and :meth:`textures` take the values.
        """
        t = int(self.texture_size)
        channels = sum(count for _, count in TEXTURE_CHANNELS)
        groups = [
            ParameterGroup("identity", (self.n_identity,), "identity coefficients (std devs)", prior_std=1.0, owner="model"),
            ParameterGroup("expression", (self.n_expression,), "expression coefficients (std devs)", prior_std=1.0, owner="model"),
        ]
        if self.n_albedo:
            groups.append(ParameterGroup("albedo", (self.n_albedo,), "statistical albedo coefficients (std devs)",
                                         prior_std=1.0, owner="model"))
        groups.append(ParameterGroup("textures", (t, t, channels),
                                     "per-texel offsets of the diffuse, specular and roughness maps", owner="model"))
        return ParameterLayout(groups)
