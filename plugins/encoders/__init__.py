"""Built-in encoders (registration only: light, no torch import)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from facerecon import hookimpl, param


@dataclass(frozen=True)
class TimmEncoderParams:
    """Parameters of the ``timm`` encoder: any timm backbone by name."""

    backbone: str = param("resnet50", "timm model name (resnet18, resnet50, resnet152, efficientnet_b0, ...).")
    out_features: int = param(1000, "Latent size D (DeepNextFace: ResNet-152 with a 1000-d latent).", ge=1)
    input_size: int = param(256, "Side of the square face crops fed to the network.", ge=16, le=4096)
    weights: Optional[str] = param(
        None, "Local file (.pth/.pt state dict or .safetensors) of the backbone's weights, e.g. timm's ImageNet "
        "weights saved on another machine; its classifier may differ (it is replaced by the latent layer). "
        "Nothing is downloaded: without a file the network starts from random weights.")
    pretrained: bool = param(
        False, "Require pretrained weights: `weights` must name the local file (an error says so otherwise).")


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in encoders."""
    registry.register("encoder", "timm", params=TimmEncoderParams, factory="plugins.encoders.timm_encoder:TimmEncoder",
                      summary="any timm backbone (random init unless a local weights file is given)")
