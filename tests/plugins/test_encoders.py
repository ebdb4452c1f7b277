"""The timm encoder loads local weights whose classifier differs, and never downloads."""
from __future__ import annotations

import pytest
import torch

from facerecon.api import build
from facerecon.errors import FaceReconError


def test_local_weights_load_without_the_classifier(tmp_path):
    import timm

    torch.manual_seed(1)
    source = timm.create_model("resnet10t", num_classes=1000)  # an "ImageNet" classifier of 1000 classes
    path = tmp_path / "resnet10t.pth"
    torch.save(source.state_dict(), path)
    encoder = build("encoder", "timm", backbone="resnet10t", out_features=32, input_size=32, weights=str(path),
                    pretrained=True)
    loaded = encoder.module().state_dict()
    assert torch.equal(loaded["conv1.0.weight"], source.state_dict()["conv1.0.weight"])
    assert loaded["fc.weight"].shape == (32, 512)
    from safetensors.torch import save_file

    save_file(source.state_dict(), str(tmp_path / "w.safetensors"))
    again = build("encoder", "timm", backbone="resnet10t", out_features=8, input_size=32,
                  weights=str(tmp_path / "w.safetensors"))
    assert torch.equal(again.module().state_dict()["layer1.0.conv1.weight"], source.state_dict()["layer1.0.conv1.weight"])


def test_pretrained_without_a_file_and_mismatched_weights_are_explained(tmp_path):
    with pytest.raises(FaceReconError, match="downloads nothing"):
        build("encoder", "timm", backbone="resnet10t", out_features=8, input_size=32, pretrained=True)
    import timm

    path = tmp_path / "other.pth"
    torch.save(timm.create_model("resnet18", num_classes=10).state_dict(), path)
    with pytest.raises(FaceReconError, match="do not fit timm's resnet10t"):
        build("encoder", "timm", backbone="resnet10t", out_features=8, input_size=32, weights=str(path))
