"""The linear morphable model both BFM plugins compile into.

A compiled model is a dict of numpy arrays (what :mod:`plugins.models.cache` stores):

========================  ============================================================
``mean``                  (V, 3) mean shape, mm, centred on the head centre
``identity``              (Ki, V, 3) mm per standard deviation
``expression``            (Ke, V, 3) mm per standard deviation
``faces``                 (F, 3) counter-clockwise seen from outside
``uvs``                   (V, 2)
``landmarks``             (68,) vertex indices
``face_mask``             (V,) bool
``symmetry``              (V,) mirror vertex
``texel_vertices``        (T*T, 3) vertices whose values a texel interpolates
``texel_weights``         (T*T, 3) barycentric weights
``texel_covered``         (T*T,) bool, texel centre inside a triangle
``centre``                (3,) what was subtracted from the file's coordinates (mm)
``cavity``                optional (V,) bool, vertices of a mouth cavity added to the source mesh
``diffuse_mean``          optional (V, 3) per-vertex diffuse albedo
``diffuse_basis``         optional (Ka, V, 3) per standard deviation
``diffuse_encoding``      ``"linear"`` or ``"srgb255"`` (sRGB values 0-255, linearised after mixing)
``specular_mean``         optional (V, 3), linear; driven by the same coefficients
``specular_basis``        optional (Ka, V, 3)
========================  ============================================================
"""
from __future__ import annotations

import numpy as np
import torch

from facerecon.imaging import srgb_to_linear
from facerecon.interfaces import BuildContext, MorphableModel, Textures

from .uvmap import mirror_texels

__all__ = ["LinearFaceModel"]


class LinearFaceModel(MorphableModel):
    """Mean + identity + expression bases, optional per-vertex albedo bases, baked to UV maps.

    Subclasses build the compiled arrays and call :meth:`_install`. Params must have
    ``texture_size``, ``skin_specular`` and ``roughness``; models without per-vertex diffuse
    albedo also ``skin_diffuse``, and those with a ``cavity`` array ``mouth_diffuse`` (the
    cavity's texels are that colour, blended with the skin by the texel weights).

    Attributes (beyond :class:`MorphableModel`'s):
        mean: (V, 3); identity_basis: (Ki, V, 3); expression_basis: (Ke, V, 3).
        shape_basis: (Ki + Ke, V*3), both bases in one matrix (the two above are views of it).
        texel_mask: (T*T,) bool, texels inside triangles of the face region.
        cavity: (V,) bool, vertices of an added mouth cavity, or None.
        texel_cavity: (T*T,) float in [0, 1], how much of each texel is mouth cavity, or None.
        centre: (3,) mm subtracted from the source coordinates.
    """

    def __init__(self, params, context: BuildContext) -> None:
        super().__init__(params, context)
        self.cache_hit = False

    def _install(self, arrays: dict[str, np.ndarray]) -> None:
        """Move the compiled arrays onto the device and set the interface attributes."""
        def tensor(name: str, dtype: torch.dtype) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(arrays[name])).to(device=self.device, dtype=dtype)

        self.mean = tensor("mean", torch.float32)
        # One (Ki + Ke, V*3) matrix, so that a shape is a single matrix product (at batch 1 a read
        # of the bases, which is what it costs); the two bases are views of it.
        bases = torch.cat([tensor("identity", torch.float32), tensor("expression", torch.float32)])
        n_identity = arrays["identity"].shape[0]
        self.identity_basis, self.expression_basis = bases[:n_identity], bases[n_identity:]
        self.shape_basis = bases.reshape(bases.shape[0], -1)
        self.faces = tensor("faces", torch.long)
        self.uvs = tensor("uvs", torch.float32)
        self.landmarks = tensor("landmarks", torch.long)
        self.face_mask = tensor("face_mask", torch.bool)
        self.symmetry = tensor("symmetry", torch.long)
        self.texel_vertices = tensor("texel_vertices", torch.long)
        self.texel_weights = tensor("texel_weights", torch.float32)
        self.texel_mask = tensor("texel_covered", torch.bool) & self.face_mask[self.texel_vertices].all(-1)
        self.centre = tensor("centre", torch.float32)
        self.texture_size = int(self.params.texture_size)
        self.texel_symmetry = torch.from_numpy(mirror_texels(self.texture_size)).to(self.device)
        self.n_identity = int(self.identity_basis.shape[0])
        self.n_expression = int(self.expression_basis.shape[0])
        self.diffuse_mean = tensor("diffuse_mean", torch.float32) if "diffuse_mean" in arrays else None
        self.diffuse_basis = tensor("diffuse_basis", torch.float32) if "diffuse_basis" in arrays else None
        self.diffuse_encoding = str(arrays["diffuse_encoding"]) if "diffuse_encoding" in arrays else "linear"
        self.specular_mean = tensor("specular_mean", torch.float32) if "specular_mean" in arrays else None
        self.specular_basis = tensor("specular_basis", torch.float32) if "specular_basis" in arrays else None
        self.n_albedo = int(self.diffuse_basis.shape[0]) if self.diffuse_basis is not None else 0
        self.cavity = tensor("cavity", torch.bool) if "cavity" in arrays else None
        self.texel_cavity = None if self.cavity is None else self.bake(self.cavity.float()[None, :, None]).reshape(-1)
        self._mean_textures: Textures | None = None  # textures(None, B), computed on first use

    def shape(self, identity: torch.Tensor, expression: torch.Tensor, indices: torch.Tensor | None = None) -> torch.Tensor:
        """Vertices from coefficients in standard deviations.

        Args:
            identity: (B, n_identity); expression: (B, n_expression).
            indices: (N,) long vertex indices to compute only those, or None for all.
        Returns:
            (B, V, 3) (or (B, N, 3)) model-frame vertices in mm.
        """
        coefficients = torch.cat([identity, expression], -1)
        mean, basis = self.mean, self.shape_basis
        if indices is not None:
            mean, basis = mean[indices], basis.view(-1, *self.mean.shape)[:, indices].reshape(basis.shape[0], -1)
        return torch.addmm(mean.reshape(1, -1), coefficients, basis).view(coefficients.shape[0], *mean.shape)

    def bake(self, values: torch.Tensor) -> torch.Tensor:
        """Per-vertex values to UV maps by barycentric interpolation.

        Args:
            values: (B, V, C).
        Returns:
            (B, T, T, C).
        """
        t = self.texture_size
        texels = (values[:, self.texel_vertices] * self.texel_weights[None, :, :, None]).sum(2)
        return texels.reshape(values.shape[0], t, t, values.shape[-1])

    def _per_vertex(self, mean: torch.Tensor, basis: torch.Tensor, albedo: torch.Tensor | None, batch: int) -> torch.Tensor:
        """(B, V, 3) mean + basis mix."""
        if albedo is None:
            return mean.expand(batch, -1, -1)
        return mean + torch.einsum("bk,kvc->bvc", albedo, basis)

    def textures(self, albedo: torch.Tensor | None, batch: int) -> Textures:
        """Reflectance maps: the statistical albedo when the model has one, else the constant prior.

        Args:
            albedo: (B, n_albedo) coefficients in standard deviations, or None for the mean.
            batch: B, used when ``albedo`` is None.
        Returns:
            :class:`Textures` with (B, T, T, 3) diffuse and specular and (B, T, T, 1) roughness, linear.
            Without ``albedo`` they are the model's mean maps, computed once and expanded to the
            batch: read them, never write into them.
        """
        if albedo is None:
            if self._mean_textures is None:
                self._mean_textures = self._textures(None, 1)
            mean = self._mean_textures
            return Textures(*(t.expand(batch, -1, -1, -1) for t in (mean.diffuse, mean.specular, mean.roughness)))
        return self._textures(albedo, batch)

    def _textures(self, albedo: torch.Tensor | None, batch: int) -> Textures:
        """:meth:`textures`, computed every call."""
        if albedo is not None:
            if albedo.shape[-1] != self.n_albedo:
                raise ValueError(f"albedo should have {self.n_albedo} coefficients, got {tuple(albedo.shape)}")
            batch = albedo.shape[0]
            if self.n_albedo == 0:
                albedo = None
        t, device = self.texture_size, self.device
        if self.diffuse_mean is None:
            diffuse = torch.tensor(self.params.skin_diffuse, device=device).expand(batch, t, t, 3)
            if self.texel_cavity is not None:
                mouth = torch.tensor(self.params.mouth_diffuse, device=device)
                diffuse = diffuse + self.texel_cavity.reshape(1, t, t, 1) * (mouth - diffuse)
        else:
            colour = self._per_vertex(self.diffuse_mean, self.diffuse_basis, albedo, batch)
            if self.diffuse_encoding == "srgb255":
                colour = srgb_to_linear((colour / 255.0).clamp(0.0, 1.0))
            diffuse = self.bake(colour)
        if self.specular_mean is None:
            specular = torch.full((batch, t, t, 3), float(self.params.skin_specular), device=device)
        else:
            specular = self.bake(self._per_vertex(self.specular_mean, self.specular_basis, albedo, batch))
        roughness = torch.full((batch, t, t, 1), float(self.params.roughness), device=device)
        return Textures(diffuse=diffuse.contiguous(), specular=specular, roughness=roughness)
