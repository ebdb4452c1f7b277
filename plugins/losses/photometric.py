"""The photometric loss: masked per-pixel difference between the render and the linear photo."""
from __future__ import annotations

import torch

from facerecon.interfaces import BuildContext, Loss, LossInputs

from .blur import gaussian_blur, gaussian_kernel
from .params import PhotometricParams

__all__ = ["PhotometricLoss"]


class PhotometricLoss(Loss):
    """Per image, the mean per-pixel error over the compared pixels.

    The compared pixels are ``region * render.mask`` (whichever of the two is given; every pixel
    when neither is), as soft weights. An image with no compared pixel contributes 0.

    NextFace averages ``mask·|Δ|`` over *all* pixels and channels (``1000·diff.mean()``), so its
    weight 1000 corresponds to about 1000 × the face's share of the image here.
    """

    needs_render = True

    def __init__(self, params: PhotometricParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self.kernel = (
            gaussian_kernel(params.blur_sigma, params.blur_size, self.device) if params.blur_sigma > 0 else None
        )

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        """(B,) loss from ``render.image`` and ``target`` (B, H, W, 3), ``region`` and ``render.mask`` (B, H, W)."""
        render, target = inputs.render, inputs.target
        if render is None or target is None:
            raise ValueError("The photometric loss needs a render and the target image.")
        image = render.image
        if image.shape != target.shape:
            raise ValueError(f"photometric: render {tuple(image.shape)} and target {tuple(target.shape)} differ.")
        if self.kernel is not None:
            image = gaussian_blur(image, self.kernel)
        diff = image - target
        if self.params.norm == "l1":
            error = diff.abs().mean(-1)
        elif self.params.norm == "l2":
            error = diff.pow(2).mean(-1)
        else:
            error = torch.linalg.vector_norm(diff, dim=-1)
        mask = self._mask(inputs, error)
        return (mask * error).sum((1, 2)) / mask.sum((1, 2)).clamp(min=1e-6)

    def _mask(self, inputs: LossInputs, like: torch.Tensor) -> torch.Tensor:
        """(B, H, W) weights of the compared pixels."""
        coverage = inputs.render.mask
        if coverage is not None and not self.params.mask_gradients:
            coverage = coverage.detach()
        masks = [m for m in (inputs.region, coverage) if m is not None]
        if not masks:
            return torch.ones_like(like)
        mask = masks[0] if len(masks) == 1 else masks[0] * masks[1]
        if mask.shape != like.shape:
            raise ValueError(f"photometric: mask {tuple(mask.shape)} does not match the image {tuple(like.shape)}.")
        return mask.to(like.dtype)
