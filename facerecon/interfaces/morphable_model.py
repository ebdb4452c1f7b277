"""Interface of morphable models."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

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
