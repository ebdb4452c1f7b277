"""The DeepNextFace network and its checkpoints, shared by the ``train`` and ``reconstruct`` tasks.

:class:`FaceNetwork` = the recipe's encoder (crop -> latent), :class:`facerecon.heads.ParameterHeads`
generated from the pipeline's parameter layout, and texture-decoder networks (one for all the maps'
offsets, or one per map: diffuse, specular, roughness). It returns physical values that :class:`facerecon.pipeline.FacePipeline`
decodes, with every group of the layout filled.

Checkpoints are safetensors files: the network's weights under ``network.``, the optimiser's state
under ``optimizer.`` (training checkpoints), and as metadata the resolved recipe the network was
trained with (``recipe``, YAML) and the training state (``training``, JSON).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from facerecon.cudagraphs import CudaGraphed
from facerecon.errors import FaceReconError
from facerecon.heads import CropFraming, ParameterHeads
from facerecon.io import atomic_path
from facerecon.layout import TEXTURE_CHANNELS
from facerecon.pipeline import FacePipeline

__all__ = ["FaceNetwork", "build_network", "save_checkpoint", "load_checkpoint", "checkpoint_recipe", "CHECKPOINT_FORMAT"]

#: Written into every checkpoint's metadata.
CHECKPOINT_FORMAT = "facerecon-network-1"


class FaceNetwork(nn.Module):
    """Encoder + parameter heads + texture-decoder networks (module docstring): one for the 7 channels
    of the ``textures`` group, or one per map (diffuse, specular, roughness), their outputs concatenated.

    Args:
        encoder: the encoder component (its ``module()`` is trained).
        pipeline: the face pipeline whose layout the heads predict.
        framing: how crops frame faces.
        params: the train task's ``network`` params.
        decoder: the texture-decoder component, or None.
    """

    def __init__(self, encoder: Any, pipeline: FacePipeline, framing: CropFraming, params: Any, decoder: Any = None) -> None:
        super().__init__()
        self._encoder = encoder
        self.encoder = encoder.module()
        self.layout = pipeline.layout
        latent = int(encoder.out_features)
        self.heads = ParameterHeads(self.layout, latent, framing, hidden=params.head_hidden,
                                    init_scale=params.head_init_scale).to(encoder.device)
        # The heads are dozens of tiny operations: at inference on a GPU, one graph replay instead.
        self._inference_heads = CudaGraphed(self.heads, self.heads)
        self.decoders = nn.ModuleDict()
        #: Arithmetic of the encoder and decoders (e.g. torch.bfloat16 under autocast), or None for fp32.
        self.autocast_dtype: torch.dtype | None = None
        if decoder is not None and "textures" in self.layout:
            size = int(self.layout["textures"].shape[0])
            maps = TEXTURE_CHANNELS if params.texture_networks == "per-map" else \
                (("maps", sum(count for _, count in TEXTURE_CHANNELS)),)
            for name, channels in maps:
                self.decoders[name] = decoder.network(latent, size, channels)
        # Crops arrive channel-last (B, S, S, 3), so an encoder's permuted input is channels-last
        # and its convolutions produce channels-last features. Weights in the same layout spare a
        # reorder of every weight on every call (resnet18 at batch 1 on a CPU runs twice as fast),
        # and the decoders' channel-last maps need no copy.
        self.to(memory_format=torch.channels_last)

    @property
    def predicts_textures(self) -> bool:
        """Whether texture decoders predict the ``textures`` group."""
        return len(self.decoders) > 0

    def forward(self, images: torch.Tensor, principal: torch.Tensor, textures: bool = True) -> dict[str, torch.Tensor]:
        """Physical values of every layout group for (B, S, S, 3) sRGB crops in [0, 1] whose
        principal point is ``principal`` (B, 2) crop pixels. Groups the network does not predict
        (``textures`` without decoders or with ``textures=False``) hold their initial values.

        On CUDA with autograd off (reconstruction, validation) the heads replay a CUDA graph
        (:class:`facerecon.cudagraphs.CudaGraphed`), captured at the first call of each batch size."""
        size = int(images.shape[1])
        device_type = images.device.type
        with torch.autocast(device_type, dtype=self.autocast_dtype or torch.float32, enabled=self.autocast_dtype is not None):
            latent = self._encoder.encode(images)
            maps = ([decoder(latent) for decoder in self.decoders.values()]
                    if textures and self.predicts_textures else [])
        values = self._inference_heads(latent.float(), principal.float(), size=size)
        if maps:
            values["textures"] = maps[0].float() if len(maps) == 1 else torch.cat([m.float() for m in maps], -1)
        batch = images.shape[0]
        for name in self.layout.names():
            if name not in values:
                values[name] = self.layout[name].initial_value(batch, images.device)
        return values

    def parts(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by part: ``encoder``, one entry per predicted group (its head; the
        shared hidden layer goes with the encoder), ``textures`` (the decoders)."""
        parts = {"encoder": list(self.encoder.parameters()) + list(self.heads.trunk.parameters())}
        for name, layer in self.heads.outputs.items():
            parts[name] = list(layer.parameters())
        if self.predicts_textures:
            parts["textures"] = list(self.decoders.parameters())
        return parts


def build_network(root: Any, build: Any, pipeline: FacePipeline) -> FaceNetwork:
    """The network a train recipe describes: ``root`` is the validated recipe's root, ``build`` its
    builder (the encoder slot and the decoder node are built through it)."""
    params = root.task.params
    encoder = build("encoder")
    if encoder is None:
        raise FaceReconError("The recipe has no encoder: set `encoder: {type: timm, backbone: resnet50}` (or another).")
    framing = CropFraming.from_model(pipeline.model, params.crop_margin, params.focal)
    decoder = build(params.network.texture_decoder) if params.network.texture_decoder is not None else None
    return FaceNetwork(encoder, pipeline, framing, params.network, decoder)


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors, plain = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": plain}


def save_checkpoint(path: Path, network: nn.Module, recipe_text: str, training: dict[str, Any],
                    optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write a checkpoint atomically (module docstring) and return its path."""
    from safetensors.torch import save_file

    tensors = {f"network.{k}": v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    training = dict(training)
    if optimizer is not None:
        optimizer_tensors, training["optimizer"] = _flatten_optimizer(optimizer)
        tensors.update(optimizer_tensors)
    metadata = {"format": CHECKPOINT_FORMAT, "recipe": recipe_text, "training": json.dumps(training)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata) of a checkpoint; ``metadata["training"]`` parsed from JSON.

    Raises:
        FaceReconError: a missing file, or a file that is not a facerecon checkpoint.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FaceReconError(f"The checkpoint {path} does not exist. Train a network first (facerecon run "
                             "recipes/deepnextface-lite.yaml) or set task.checkpoint to a checkpoint file.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise FaceReconError(f"{path} could not be read as a safetensors checkpoint ({exc}).") from None
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise FaceReconError(f"{path} is not a facerecon network checkpoint (its metadata has no "
                             f"format {CHECKPOINT_FORMAT!r}).")
    metadata["training"] = json.loads(metadata.get("training", "{}"))
    return tensors, metadata


def load_network_state(network: nn.Module, tensors: dict[str, torch.Tensor], path: Path | str) -> None:
    """Load the ``network.`` tensors of a checkpoint into ``network`` (every key must match)."""
    state = {k[len("network."):]: v for k, v in tensors.items() if k.startswith("network.")}
    own = network.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    reshaped = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or reshaped:
        example = (f"{reshaped[0]} is {tuple(state[reshaped[0]].shape)} there, {tuple(own[reshaped[0]].shape)} here"
                   if reshaped else (missing or unexpected)[0])
        raise FaceReconError(
            f"The checkpoint {path} does not fit this network ({len(missing)} missing, {len(unexpected)} unexpected "
            f"and {len(reshaped)} differently shaped weights, e.g. {example}): it was trained with another encoder, "
            "model, lighting or decoder, or with an older facerecon whose defaults differed (an upconv decoder "
            "trained before `shuffle` existed used shuffle 2; one trained before `project_rank` and `head_kernel` "
            "existed used 0 and 3). Train it again with this version.")
    network.load_state_dict(state)


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], saved: dict) -> None:
    """Restore an optimiser saved by :func:`save_checkpoint` (``saved`` = ``training["optimizer"]``)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            param = params[int(index)]
            if value.shape == param.shape:
                # Saved contiguous; the moments take their parameter's memory layout (channels-last
                # convolutions) again, which the fused update, reading them as flat memory, relies on.
                value = torch.empty_like(param, dtype=value.dtype).copy_(value)
            state.setdefault(int(index), {})[name] = value
    for index, values in saved.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})


def checkpoint_recipe(metadata: dict[str, Any], registry: Any) -> Any:
    """The validated recipe a checkpoint was trained with."""
    from facerecon.recipe import load_recipe

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint-recipe.yaml"
        path.write_text(metadata["recipe"])
        return load_recipe(path, registry)
