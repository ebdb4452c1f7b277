"""The ``example-tv`` loss: total variation of the rendered image inside the face mask."""
from __future__ import annotations

import torch

from facerecon.interfaces import Loss, LossInputs

__all__ = ["TotalVariationLoss"]


class TotalVariationLoss(Loss):
    """Mean penalty of horizontal and vertical neighbour differences of ``render.image``.

    Only pairs of pixels that are both covered count: the weight of a pair is the product of
    the two pixels' coverage (times the face region when ``use_region``). The mean runs over
    each face's pairs and colour channels, so the value does not grow with the image size.
    """

    needs_render = True  # a stage renders only when one of its losses asks for it

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """``inputs.render`` (B, H, W, 3) image and (B, H, W) mask -> (B,) loss per face."""
        if inputs.render is None:
            raise ValueError("example-tv needs a render (use it in stages that render).")
        image = inputs.render.image
        mask = inputs.render.mask.detach()
        if self.params.use_region and inputs.region is not None:
            mask = mask * inputs.region.to(mask)
        total = image.new_zeros(image.shape[0])
        pairs = image.new_zeros(image.shape[0])
        for dim in (1, 2):  # rows, then columns
            n = image.shape[dim] - 1
            diff = image.narrow(dim, 1, n) - image.narrow(dim, 0, n)
            weight = mask.narrow(dim, 1, n) * mask.narrow(dim, 0, n)
            penalty = diff.abs() if self.params.norm == "l1" else diff.pow(2)
            total = total + (penalty.mean(-1) * weight).sum((1, 2))
            pairs = pairs + weight.sum((1, 2))
        return total / pairs.clamp(min=1.0)
