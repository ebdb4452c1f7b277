"""Supervision by a known ground truth (synthetic training faces)."""
from __future__ import annotations

import torch

from facerecon.errors import FaceReconError
from facerecon.interfaces import Loss, LossInputs

__all__ = ["ShapeTruth", "TRUTH"]

#: Key of ``LossInputs.extras`` holding the ground-truth physical values by group, (B, ...) each.
TRUTH = "truth"


class ShapeTruth(Loss):
    """Mean over vertices of ‖S(identity, expression) − S(true identity, true expression)‖ (mm), or of
    its square (mm², ``distance: squared``), per face.

    Shapes are in the model frame, so the pose is left to other terms (landmarks, photometric).
    Reads the predicted ``coefficients`` and ``extras["truth"]``, and the model from the inputs.
    """

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """(B,) mean vertex distance in mm (or squared distance in mm²)."""
        truth = inputs.extras.get(TRUTH)
        if not truth or "identity" not in truth or inputs.model is None:
            raise FaceReconError(
                "The shape-truth loss needs the faces' ground truth, which only synthetic training faces have: "
                "use it in a train stage with task.data synthetic, or remove it.")
        model = inputs.model
        predicted = model.shape(inputs.coefficients["identity"], inputs.coefficients["expression"])
        with torch.no_grad():
            true = model.shape(truth["identity"].to(predicted), truth["expression"].to(predicted))
        if self.params.region == "face":
            predicted, true = predicted[:, model.face_mask], true[:, model.face_mask]
        squared = (predicted - true).pow(2).sum(-1)
        if self.params.distance == "squared":
            return squared.mean(-1)
        return (squared + 1e-8).sqrt().mean(-1)
