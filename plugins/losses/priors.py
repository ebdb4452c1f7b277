"""Priors on coefficients: the morphable model's Gaussian prior and the light regulariser."""
from __future__ import annotations

import torch

from facerecon.interfaces import Loss, LossInputs

__all__ = ["GaussianPrior", "SHPrior", "SizePrior", "size_directions"]


class GaussianPrior(Loss):
    """Σ_g w_g·mean(c_g²) over the named coefficient groups present in the step.

    Coefficients are in std-dev units, so this is NextFace's ``mean(c²/σ²)`` per group.
    Deep3DFaceRecon sums over coefficients (``Σ c²`` per image): multiply its group weights by
    the group sizes to reproduce it. Without ``groups``, every coefficient group but the light
    weighs 1 (identity, expression, and albedo when the model has it).
    """

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """(B,) loss from ``coefficients[name]`` (B, K) for each name in ``groups``."""
        groups = self.params.groups or {name: 1.0 for name in inputs.coefficients if name != "light"}
        terms = [
            float(w) * inputs.coefficients[name].flatten(1).pow(2).mean(1)
            for name, w in groups.items()
            if name in inputs.coefficients and inputs.coefficients[name].numel() > 0
        ]
        if not terms:
            return torch.zeros(_batch(inputs), device=self.device)
        return torch.stack(terms).sum(0)


class SHPrior(Loss):
    """mean(L²) of the light coefficients, or with ``monochrome`` mean((L − mean_rgb L)²)."""

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """(B,) loss from ``coefficients['light']`` (B, K, 3)."""
        light = inputs.coefficients.get("light")
        if light is None:
            raise ValueError("The sh-prior loss needs coefficients['light'] (B, K, 3).")
        if self.params.exclude_dc:
            light = light[:, 1:]
        if self.params.monochrome:
            light = light - light.mean(-1, keepdim=True)
        if light[0].numel() == 0:
            return light.flatten(1).sum(1)
        return light.flatten(1).pow(2).mean(1)


def size_directions(model) -> torch.Tensor:
    """(K,) relative size change of the face per unit of each identity coefficient.

    The displacement of identity component k, d_k = shape(e_k, 0) − shape(0, 0), changes the size
    of the mean shape m (centred) by the least-squares uniform scale ⟨d_k, m⟩ / ⟨m, m⟩ to first order.
    """
    with torch.no_grad():
        k = int(model.n_identity)
        device = model.faces.device
        expression = torch.zeros(k + 1, int(model.n_expression), device=device)
        identity = torch.cat([torch.zeros(1, k, device=device), torch.eye(k, device=device)])
        shapes = model.shape(identity, expression)
        mean = shapes[0] - shapes[0].mean(0)
        return ((shapes[1:] - shapes[:1]) * mean).sum((1, 2)) / mean.pow(2).sum()


class SizePrior(Loss):
    """((Σ_k s_k·c_k) / tolerance)²: the first-order relative size change of the face made by the
    identity coefficients c (B, K), with s = :func:`size_directions` of the model.

    BFM-like models carry head size mostly in their first identity component; without this term
    a fit trades that size against depth and focal, which a photo hardly constrains.
    """

    def __init__(self, params, context) -> None:
        super().__init__(params, context)
        self._directions: dict[int, torch.Tensor] = {}

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """(B,) loss from ``coefficients['identity']`` and ``model``."""
        identity = inputs.coefficients.get("identity")
        if identity is None or inputs.model is None:
            raise ValueError("The size-prior loss needs coefficients['identity'] and the model.")
        key = id(inputs.model)
        if key not in self._directions:
            self._directions = {key: size_directions(inputs.model).to(identity)}
        change = identity @ self._directions[key]
        return (change / float(self.params.tolerance)).pow(2)


def _batch(inputs: LossInputs) -> int:
    """B, read from any batched tensor of the inputs (1 when there is none)."""
    for value in (*inputs.coefficients.values(), inputs.target, inputs.landmarks_target):
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return 1
