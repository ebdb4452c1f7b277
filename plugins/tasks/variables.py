"""The unknowns of one face fit, grouped as recipes name them in ``stages.*.free``."""
from __future__ import annotations

import math

import torch

from facerecon.geometry import apply_pose
from facerecon.interfaces import Textures

__all__ = ["GROUPS", "FaceVariables"]

#: Parameter groups a stage may free, and what they hold.
GROUPS: dict[str, str] = {
    "pose": "head rotation (Euler, rad) and translation (optimised in dm)",
    "focal": "focal length (optimised as its logarithm)",
    "identity": "identity coefficients (std devs)",
    "expression": "expression coefficients (std devs)",
    "light": "lighting coefficients",
    "albedo": "statistical albedo coefficients (std devs), if the model has any",
    "textures": "per-texel offsets of the diffuse, specular and roughness maps",
}


class FaceVariables:
    """Leaf tensors (B = 1) optimised for one face, and what they define.

    Translation is stored in decimetres and focal as its log so one Adam learning rate suits
    every group.

    Args:
        model: the morphable model; lighting: the lighting component.
        rotation: (3,) initial Euler angles; translation: (3,) mm; focal: pixels.
    """

    def __init__(self, model, lighting, rotation, translation, focal: float, device: torch.device) -> None:
        def leaf(value) -> torch.Tensor:
            return torch.as_tensor(value, dtype=torch.float32, device=device).clone().requires_grad_(True)

        self.model = model
        self.identity = leaf(torch.zeros(1, model.n_identity))
        self.expression = leaf(torch.zeros(1, model.n_expression))
        self.albedo = leaf(torch.zeros(1, model.n_albedo))
        self.rotation = leaf(torch.as_tensor(rotation, dtype=torch.float32)[None])
        self.translation_dm = leaf(torch.as_tensor(translation, dtype=torch.float32)[None] / 100.0)
        self.log_focal = leaf(torch.tensor([math.log(focal)]))
        self.light = leaf(lighting.initial(1).detach())
        base = model.textures(None, 1)
        self.diffuse_offset = leaf(torch.zeros_like(base.diffuse))
        self.specular_offset = leaf(torch.zeros_like(base.specular))
        self.roughness_offset = leaf(torch.zeros_like(base.roughness))

    def groups(self) -> dict[str, list[torch.Tensor]]:
        """Group name -> leaf tensors."""
        return {
            "pose": [self.rotation, self.translation_dm],
            "focal": [self.log_focal],
            "identity": [self.identity],
            "expression": [self.expression],
            "light": [self.light],
            "albedo": [self.albedo] if self.model.n_albedo else [],
            "textures": [self.diffuse_offset, self.specular_offset, self.roughness_offset],
        }

    @property
    def translation(self) -> torch.Tensor:
        """(1, 3) translation in mm."""
        return self.translation_dm * 100.0

    @property
    def focal(self) -> torch.Tensor:
        """(1,) focal length in pixels."""
        return self.log_focal.exp()

    def camera_vertices(self, indices: torch.Tensor | None = None) -> torch.Tensor:
        """(1, V, 3) (or (1, N, 3) for ``indices``) camera-frame vertices in mm."""
        vertices = self.model.shape(self.identity, self.expression, indices)
        return apply_pose(vertices, self.rotation, self.translation)

    def base_textures(self) -> Textures:
        """The statistical maps (from the albedo coefficients), (1, T, T, C)."""
        return self.model.textures(self.albedo if self.model.n_albedo else None, 1)

    def textures(self, base: Textures) -> Textures:
        """Statistical maps plus the per-texel offsets."""
        return Textures(
            diffuse=base.diffuse + self.diffuse_offset,
            specular=base.specular + self.specular_offset,
            roughness=base.roughness + self.roughness_offset,
        )

    def coefficients(self) -> dict[str, torch.Tensor]:
        """Named coefficients for priors: identity, expression, albedo (B, K) and light (B, K, 3)."""
        out = {"identity": self.identity, "expression": self.expression, "light": self.light}
        if self.model.n_albedo:
            out["albedo"] = self.albedo
        return out
