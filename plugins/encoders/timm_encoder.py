"""Image encoder backed by any timm backbone."""
from __future__ import annotations

from pathlib import Path

import torch

from facerecon.errors import FaceReconError
from facerecon.interfaces import Encoder

__all__ = ["TimmEncoder"]

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class TimmEncoder(Encoder):
    """A timm network whose classifier outputs the latent vector.

    Inputs are sRGB crops in [0, 1], normalised with ImageNet statistics and resized to
    ``input_size`` when needed.
    """

    def __init__(self, params, context) -> None:
        super().__init__(params, context)
        import timm

        if params.backbone not in timm.list_models():
            import difflib

            close = difflib.get_close_matches(params.backbone, timm.list_models(), n=3)
            raise FaceReconError(
                f"timm has no model named '{params.backbone}'"
                + (f" (did you mean {', '.join(close)}?)" if close else "")
                + ". See timm.list_models() for the names."
            )
        self.network = timm.create_model(params.backbone, pretrained=False, num_classes=params.out_features)
        if params.pretrained and not params.weights:
            raise FaceReconError(
                f"encoder.pretrained is true but no weights file is given. facerecon downloads nothing at run time: "
                f"save the pretrained {params.backbone} weights on a machine that can download them "
                f"(torch.save(timm.create_model('{params.backbone}', pretrained=True).state_dict(), "
                f"'{params.backbone}.pth')) and set encoder.weights to that file, or set pretrained: false.")
        if params.weights:
            self._load_weights(Path(params.weights))
        self.network.to(context.device)
        self.out_features = params.out_features
        self.input_size = params.input_size
        self._mean = torch.tensor(_MEAN, device=context.device).view(1, 3, 1, 1)
        self._std = torch.tensor(_STD, device=context.device).view(1, 3, 1, 1)

    def _load_weights(self, path: Path) -> None:
        """Load a local state dict; the classifier may differ (it became the latent layer), the rest must match."""
        if not path.is_file():
            raise FaceReconError(f"Encoder weights file {path} does not exist. Give a local state-dict file or leave "
                                 "`weights` empty.")
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state
        own = self.network.state_dict()
        classifier = {f"{self.network.default_cfg.get('classifier', 'fc')}.{k}" for k in ("weight", "bias")}
        usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        missing = sorted(set(own) - set(usable) - classifier)
        if missing:
            raise FaceReconError(
                f"The weights in {path} do not fit timm's {self.params.backbone}: {len(missing)} of its tensors are "
                f"missing or shaped differently (e.g. {missing[0]}). Save the weights of this very model name.")
        self.network.load_state_dict(usable, strict=False)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) sRGB in [0, 1] -> (B, D) latent."""
        x = images.permute(0, 3, 1, 2)
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = torch.nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                                                align_corners=False, antialias=True)
        return self.network((x - self._mean) / self._std)

    def module(self) -> torch.nn.Module:
        """The timm network."""
        return self.network
