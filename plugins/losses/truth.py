"""Supervision by a known ground truth (synthetic training faces)."""
from __future__ import annotations

import torch

from facerecon.errors import FaceReconError
from facerecon.interfaces import Loss, LossInputs

__all__ = ["ShapeTruth", "LightTruth", "TRUTH"]

#: Key of ``LossInputs.extras`` holding the ground-truth physical values by group, (B, ...) each.
TRUTH = "truth"


def _truth(inputs: LossInputs, group: str, loss: str) -> torch.Tensor:
    """The true values of ``group`` from ``extras["truth"]``, or a clear error when there are none."""
    truth = inputs.extras.get(TRUTH)
    if not truth or group not in truth:
        raise FaceReconError(
            f"The {loss} loss needs the faces' ground truth, which only synthetic training faces have: "
            "use it in a train stage with task.data synthetic, or remove it.")
    return truth[group]


class ShapeTruth(Loss):
    """Mean over vertices of ‖S(identity, expression) − S(true identity, true expression)‖ (mm), or of
    its square (mm², ``distance: squared``), per face.

    Shapes are in the model frame, so the pose is left to other terms (landmarks, photometric).
    Reads the predicted ``coefficients`` and ``extras["truth"]``, and the model from the inputs.
    """

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """(B,) mean vertex distance in mm (or squared distance in mm²)."""
        identity, expression = _truth(inputs, "identity", "shape-truth"), _truth(inputs, "expression", "shape-truth")
        model = inputs.model
        if model is None:
            raise FaceReconError("The shape-truth loss needs the morphable model in its inputs to compare shapes; "
                                 "use it in a train stage, whose pipeline passes it.")
        predicted = model.shape(inputs.coefficients["identity"], inputs.coefficients["expression"])
        with torch.no_grad():
            true = model.shape(identity.to(predicted), expression.to(predicted))
        squared = (predicted - true).pow(2).sum(-1)
        per_vertex = squared if self.params.distance == "squared" else (squared + 1e-8).sqrt()
        if self.params.region == "face":
            # A weighted sum rather than selecting the face's vertices: selecting copies them and its
            # backward pass scatters (a quarter of this loss's time in training).
            weights = model.face_mask.to(per_vertex.dtype)
            return per_vertex @ (weights / weights.sum())
        return per_vertex.mean(-1)


class LightTruth(Loss):
    """Σ_k mean_c (ℓ_kc − ℓ*_kc)² over the (B, K, 3) light coefficients, per face: for spherical
    harmonics (an orthonormal basis) the squared radiance difference integrated over the sphere,
    averaged over the colour channels. Pre-training the light head on it gives the later
    self-supervised stages a light that explains the photo from their first step, so that the
    photometric loss does not first reshape the face to make up for a wrong light.
    """

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """(B,) squared coefficient distance."""
        light = inputs.coefficients["light"]
        true = _truth(inputs, "light", "light-truth").to(light)
        return (light - true).pow(2).mean(-1).sum(-1)
