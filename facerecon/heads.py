"""Network heads: a face's parameter values predicted from a latent vector, sized from a layout.

A network that reconstructs faces (DeepNextFace) maps a face crop to a latent vector; the heads
turn it into the physical values of every group of a :class:`facerecon.layout.ParameterLayout`
that :class:`facerecon.pipeline.FacePipeline` decodes. They are generated from the layout the
recipe's components declare, so they are sized from the chosen model and lighting.

- **Model and lighting groups** (identity, expression, albedo, light...): one linear output per
  free scalar; the prediction is the group's initial value (its prior mean) plus ``prior_std``
  (1 when the group has none) times the output, in the group's own space.
- **Camera groups**: a network cannot know where its crop lies in the photo, so it predicts what
  it sees (:class:`CropFraming`): the head's rotation relative to the ray through the crop point
  it is centred on, in the continuous 6D representation; that point's offset from the crop
  centre in crop sides; its depth as a log ratio to the depth at which the mean face fills the
  crop as the crop framing does; and the focal as a log ratio to the task's focal in crop sides.
  With the crop's principal point (the photo's centre, which the task knows) these become the
  physical rotation, translation in mm and focal in pixels of the photo's camera frame.

The output layers start small (``init_scale``), so an untrained network predicts the mean face
with the initial light, facing the camera and framed as the crop frames faces.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterable

import torch
from torch import nn

from .geometry import sixd_to_matrix
from .groups import CAMERA_GROUPS
from .layout import ParameterLayout

__all__ = ["CropFraming", "ParameterHeads", "look_rotation", "CAMERA_OUTPUTS"]

#: Outputs of the camera heads: group -> (size, scale of one output unit).
CAMERA_OUTPUTS: dict[str, tuple[int, float]] = {
    "rotation": (6, 1.0),      # 6D rotation relative to the viewing ray
    "translation": (3, 0.1),   # centre offset (x, y) in crop sides, log depth ratio
    "focal": (1, 0.1),         # log focal ratio
}


#: Coefficients of d_x, d_y, d_z in the row-major entries of the cross-product matrix [k]× of
#: k = +z × d = (−d_y, d_x, 0): [[0, 0, d_x], [0, 0, d_y], [−d_x, −d_y, 0]].
_CROSS_MATRIX = ((0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0),
                 (0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0),
                 (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
#: The 6D form (first two columns) of diag(1, −1, −1): the model's front facing the camera.
_FACING_SIXD = (1.0, 0.0, 0.0, 0.0, -1.0, 0.0)


@functools.lru_cache(maxsize=64)
def _constant(values: tuple, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A constant tensor, made once per device and dtype. Made on every call, each constant was a
    copy from the host, which waits for a GPU and cannot be captured into a CUDA graph. Read-only."""
    return torch.tensor(values, device=device, dtype=dtype)


def look_rotation(directions: torch.Tensor) -> torch.Tensor:
    """The smallest rotations taking the optical axis +z to unit ``directions`` (B, 3) with z > 0
    -> (B, 3, 3) (Rodrigues' formula with axis +z × d)."""
    device, dtype = directions.device, directions.dtype
    cross = (directions @ _constant(_CROSS_MATRIX, device, dtype)).view(*directions.shape[:-1], 3, 3)
    scale = 1.0 / (1.0 + directions[..., 2]).clamp(min=1e-6)
    return _constant(_IDENTITY, device, dtype) + cross + (cross @ cross) * scale[..., None, None]


@dataclass(frozen=True)
class CropFraming:
    """How a task frames faces in square crops, which ties the camera heads to physical values.

    Attributes:
        anchor: (3,) model-frame point (mm) the crop is centred on: the centre of the mean face's
            landmark box seen from the front.
        extent: larger side (mm) of that box; the crop side is ``margin`` times its image.
        margin: crop side relative to the landmarks' extent.
        focal: focal length in crop sides.
    """

    anchor: tuple[float, float, float]
    extent: float
    margin: float
    focal: float

    @staticmethod
    def from_model(model: Any, margin: float, focal: float) -> "CropFraming":
        """The framing of ``model``'s mean face (its 68 landmarks) for crops of ``margin``."""
        device = model.faces.device
        with torch.no_grad():
            points = model.shape(torch.zeros(1, model.n_identity, device=device),
                                 torch.zeros(1, model.n_expression, device=device), model.landmarks)[0]
        low, high = points.min(0).values, points.max(0).values
        centre = ((low + high) / 2).tolist()
        centre[2] = float(points[:, 2].mean())
        return CropFraming(anchor=tuple(centre), extent=float((high - low)[:2].max()), margin=float(margin),
                           focal=float(focal))

    def depth(self, focal: torch.Tensor, size: int) -> torch.Tensor:
        """(B,) depth (mm) of the anchor at which the mean face fills a crop of ``size`` pixels at
        ``focal`` (B,) pixels as the crop framing does."""
        return focal * (self.extent * self.margin / size)

    def camera(self, outputs: dict[str, torch.Tensor], principal: torch.Tensor, size: int) -> dict[str, torch.Tensor]:
        """Physical rotation (B, 3, 3), translation (B, 3) mm and focal (B,) px from the camera
        heads' outputs (scaled, see :data:`CAMERA_OUTPUTS`) for crops of ``size`` pixels whose
        principal point is ``principal`` (B, 2) crop pixels."""
        rotation_out, translation_out, focal_out = outputs["rotation"], outputs["translation"], outputs["focal"]
        dtype, device = rotation_out.dtype, rotation_out.device
        focal = (self.focal * size) * focal_out[:, 0].exp()
        centre = size / 2.0 + size * translation_out[:, :2]
        depth = self.depth(focal, size) * translation_out[:, 2].exp()
        ray = torch.cat([(centre - principal) / focal[:, None], torch.ones_like(focal)[:, None]], -1)
        local = sixd_to_matrix(_constant(_FACING_SIXD, device, dtype) + rotation_out)
        rotation = look_rotation(nn.functional.normalize(ray, dim=-1)) @ local
        translation = ray * depth[:, None] - rotation @ _constant(self.anchor, device, dtype)
        return {"rotation": rotation, "translation": translation, "focal": focal}


class ParameterHeads(nn.Module):
    """Linear heads predicting the physical values of a layout's groups (module docstring).

    Args:
        layout: the parameter layout (camera + model + lighting groups).
        in_features: latent size D.
        framing: how crops frame faces (for the camera groups).
        groups: the groups to predict (default: every group but ``textures``, which texture
            decoders predict).
        hidden: width of a shared hidden layer (ReLU) before the outputs; 0 = linear heads.
        init_scale: multiplier of the output layers' initial weights (their biases start at 0).
    """

    def __init__(self, layout: ParameterLayout, in_features: int, framing: CropFraming,
                 groups: Iterable[str] | None = None, hidden: int = 0, init_scale: float = 0.01) -> None:
        super().__init__()
        self.layout, self.framing = layout, framing
        self.groups = [g for g in (groups if groups is not None else layout.names()) if g != "textures"]
        self.trunk = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU()) if hidden > 0 else nn.Identity()
        width = hidden if hidden > 0 else in_features
        self.outputs = nn.ModuleDict()
        scales, bases = [], []
        for name in self.groups:
            if name in CAMERA_GROUPS:
                size, scale = CAMERA_OUTPUTS[name]
                base = torch.zeros(size)
            else:
                group = layout[name]
                size, scale = group.size, group.prior_std or 1.0
                base = group.space.to_free(group.initial_value(1, torch.device("cpu")))[0].reshape(-1)
            layer = nn.Linear(width, size)
            with torch.no_grad():
                layer.weight.mul_(init_scale)
                layer.bias.zero_()
            self.outputs[name] = layer
            scales.append(torch.full((size,), float(scale)))
            bases.append(base.float())
        self._sizes = [layer.out_features for layer in self.outputs.values()]
        # Every head's scale and base (the group's initial free value; 0 for the camera heads), end to end.
        self.register_buffer("_scale", torch.cat(scales) if scales else torch.zeros(0), persistent=False)
        self.register_buffer("_base", torch.cat(bases) if bases else torch.zeros(0), persistent=False)
        missing = [g for g in CAMERA_GROUPS if g in layout and g not in self.groups]
        if missing and any(g in self.groups for g in CAMERA_GROUPS):
            raise ValueError(f"the camera heads predict rotation, translation and focal together; missing {missing}")

    def forward(self, latent: torch.Tensor, principal: torch.Tensor, size: int) -> dict[str, torch.Tensor]:
        """(B, D) latents -> physical values of :attr:`groups` for crops of ``size`` pixels whose
        principal point is ``principal`` (B, 2) crop pixels."""
        features = self.trunk(latent)
        layers = list(self.outputs.values())
        if not layers:
            return {}
        # The heads read the same features: one product for all of them, scaled and offset at once.
        # A product and a scaling per head were as many GPU launches as the encoder's, which at a
        # small batch cost more than the arithmetic.
        weight = torch.cat([layer.weight for layer in layers])
        bias = torch.cat([layer.bias for layer in layers])
        flat = torch.addmm(bias, features, weight.t()) * self._scale + self._base
        outputs = dict(zip(self.outputs.keys(), flat.split(self._sizes, dim=1)))
        values: dict[str, torch.Tensor] = {}
        if "rotation" in outputs:
            values.update(self.framing.camera(outputs, principal, size))
        for name in self.groups:
            if name in CAMERA_GROUPS:
                continue
            group = self.layout[name]
            values[name] = group.space.to_physical(outputs[name].view(-1, *group.space.free_shape(group.shape)))
        return values
