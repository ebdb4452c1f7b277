"""The landmark loss: weighted mean squared distance between projected and detected iBUG-68 points."""
from __future__ import annotations

import torch

from facerecon.contour import contour_weights
from facerecon.interfaces import BuildContext, Loss, LossInputs
from facerecon.landmarks import OUTER_EYE_CORNERS

from .params import LandmarkParams, point_weights

__all__ = ["LandmarkLoss"]


class LandmarkLoss(Loss):
    """Σ_i w_i·‖p_i − q_i‖² / Σ_i w_i over the 68 points, per face.

    With ``use_confidence`` and ``landmarks_confidence`` in the inputs, each point's weight is
    multiplied by the detector's confidence in it (a hidden jaw point of a turned head then
    pulls nothing). With ``fade_turned_jaw`` the jaw contour's weight also falls with the
    head's yaw estimated from the detected points (:func:`facerecon.contour.contour_weights`).

    With the defaults this is NextFace's mean squared pixel distance over the points it keeps.
    Deep3DFaceRecon divides by the point count (68) instead of Σ w: multiply its weight (1.6e-3)
    by Σ w / 68 to get the same objective here.
    """

    def __init__(self, params: LandmarkParams, context: BuildContext) -> None:
        super().__init__(params, context)
        weights = point_weights(params.jaw, dict(params.point_weights))
        self.point_weights = torch.tensor(weights, dtype=torch.float32, device=self.device)

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """(B,) loss from ``landmarks_pred`` and ``landmarks_target`` (B, 68, 2) pixels.

        ``normalize: image`` reads the image size from ``target`` (B, H, W, 3) or the render.
        """
        pred, target = inputs.landmarks_pred, inputs.landmarks_target
        if pred is None or target is None:
            raise ValueError("The landmark loss needs landmarks_pred and landmarks_target.")
        squared = (pred - target).pow(2).sum(-1)  # (B, 68)
        if self.params.normalize == "eyes":
            a, b = OUTER_EYE_CORNERS
            eyes = (target[:, a] - target[:, b]).norm(dim=-1).clamp(min=1e-6)
            squared = squared / eyes.pow(2)[:, None]
        elif self.params.normalize == "image":
            squared = squared / float(self._image_side(inputs)) ** 2
        weights = self.point_weights.to(squared).expand_as(squared)
        if self.params.use_confidence and inputs.landmarks_confidence is not None:
            weights = weights * inputs.landmarks_confidence.to(squared).clamp(0.0, 1.0)
        if self.params.fade_turned_jaw:
            weights = weights * contour_weights(target.detach()).to(squared)
        return (squared * weights).sum(-1) / weights.sum(-1).clamp(min=1e-6)

    @staticmethod
    def _image_side(inputs: LossInputs) -> int:
        """max(H, W) of the target or rendered image."""
        image = inputs.target if inputs.target is not None else getattr(inputs.render, "image", None)
        if image is None:
            raise ValueError("landmark normalize=image needs the target image or a render to know the image size.")
        return max(int(image.shape[1]), int(image.shape[2]))
