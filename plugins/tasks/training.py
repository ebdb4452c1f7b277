"""The training step of a DeepNextFace network, stage by stage, on one or several processes.

:class:`Trainer` owns the network, the face pipeline and the stages of a train recipe. A stage
(``begin_stage``) decides which network parts train from its ``free`` parameter groups, builds an
AdamW optimiser (``lr`` × ``lr_scale[group]`` per part) and a learning-rate schedule, and wraps the
network in DistributedDataParallel when several processes train. ``step`` runs one batch: network
-> physical values -> the batched face pipeline (rendering when a loss needs pixels) -> the
stage's losses per face -> their mean -> backward, clipping, update. ``validate`` measures the
network on faces with ground truth (the evaluation's vertex-to-vertex error in mm after rigid and
similarity alignment, landmark error).

:class:`Distributed` reads torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and
starts the process group (NCCL on CUDA, gloo on CPU).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from facerecon.errors import FaceReconError
from facerecon.pipeline import FacePipeline

from .accuracy import geometry_distances, landmark_error
from .facesets import FaceSet, batch_targets, truth_values
from .network import FaceNetwork

__all__ = ["Distributed", "PreparedStage", "Trainer", "autocast_dtype", "measure"]


@dataclass
class Distributed:
    """This process's place among the training processes.

    Attributes:
        rank, world, local_rank: from torchrun's environment (0, 1, 0 when run alone).
        device: this process's device (``cuda:LOCAL_RANK`` on GPUs).
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    started: bool = False

    @staticmethod
    def start(device: torch.device) -> "Distributed":
        """Join the process group torchrun describes, if any (``WORLD_SIZE`` > 1)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return Distributed(device=device)
        import torch.distributed as dist

        rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
            device = torch.device("cuda", local_rank)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return Distributed(rank, world, local_rank, device, started=True)

    @property
    def main(self) -> bool:
        """Whether this process logs, validates and writes checkpoints (rank 0)."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every process."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's value of ``flag`` on every process."""
        if self.world == 1:
            return flag
        import torch.distributed as dist

        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.broadcast(value, 0)
        return bool(value.item() > 0.5)

    def close(self) -> None:
        """Leave the process group this object started."""
        if self.started:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.started = False


@dataclass
class PreparedStage:
    """A recipe stage ready to train: its built losses and renderer, and its groups expanded."""

    name: str
    stage: Any
    losses: dict[str, Any]
    renderer: Any
    free: list[str]
    lr_scale: dict[str, float]
    delay: dict[str, int]

    @property
    def needs_render(self) -> bool:
        """Whether a loss of the stage reads rendered pixels."""
        return any(getattr(loss, "needs_render", False) for loss in self.losses.values())


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a ``precision`` setting on ``device`` (None: fp32).

    Raises:
        FaceReconError: fp16 on a CPU (its loss scaling needs CUDA).
    """
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    if precision == "fp16" and device.type != "cuda":
        raise FaceReconError("task.precision fp16 needs a CUDA GPU (its loss scaling runs there); use bf16 or fp32 on a CPU.")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


class Trainer:
    """Trains a :class:`FaceNetwork` through prepared stages (module docstring).

    Args:
        network: the network (on ``dist.device``).
        pipeline: the face pipeline its values go through.
        stages: the prepared stages, in order.
        params: the train task's params (weight decay, schedule, clipping, precision, batch norm).
        dist: the process's place among the training processes.
    """

    def __init__(self, network: FaceNetwork, pipeline: FacePipeline, stages: list[PreparedStage], params: Any,
                 dist: Distributed) -> None:
        self.network, self.pipeline, self.stages, self.params, self.dist = network, pipeline, stages, params, dist
        self.device = dist.device
        network.autocast_dtype = autocast_dtype(params.precision, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=network.autocast_dtype == torch.float16)
        if dist.world > 1 and self.device.type == "cuda" and not params.freeze_batch_norm:
            nn.SyncBatchNorm.convert_sync_batchnorm(network)
        self.model: nn.Module = network
        self.current: PreparedStage | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.epoch_in_stage = 0
        self._train_encoder = True
        self._delayed: list[nn.Parameter] = []

    def begin_stage(self, index: int, steps_per_epoch: int) -> None:
        """Set the trainable parts of stage ``index``, a fresh optimiser and schedule, and DDP."""
        prepared = self.stages[index]
        parts = self.network.parts()
        if "textures" in prepared.free and "textures" not in parts:
            raise FaceReconError(
                f"Stage '{prepared.name}' frees `textures`, but the network has no texture decoder: set "
                "task.network.texture_decoder (e.g. {type: upconv}) or leave textures out of `free`.")
        groups = [g for g in prepared.free if g in parts]
        self._train_encoder = any(g != "textures" for g in prepared.free)
        trainable = set(groups) | ({"encoder"} if self._train_encoder else set())
        for name, tensors in parts.items():
            for tensor in tensors:
                tensor.requires_grad_(name in trainable)
        param_groups = [{"params": parts[name], "lr": prepared.stage.lr * prepared.lr_scale.get(name, 1.0), "name": name}
                        for name in parts if name in trainable and parts[name]]
        self.current = prepared
        # The fused update is one kernel for every tensor: on two CPU threads it took a ResNet-18's
        # optimiser step (channels-last weights) from 28 to 9 ms; the default goes tensor by tensor there.
        self.optimizer = torch.optim.AdamW(param_groups, lr=prepared.stage.lr, weight_decay=self.params.weight_decay,
                                           fused=self.device.type in ("cpu", "cuda") or None) if param_groups else None
        total = max(1, int(prepared.stage.steps) * steps_per_epoch)
        warmup, schedule = self.params.warmup_steps, self.params.lr_schedule

        def factor(step: int) -> float:
            ramp = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
            if schedule == "constant":
                return ramp
            progress = min(1.0, max(0, step - warmup) / max(1, total - warmup))
            return ramp * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor) if self.optimizer else None
        self.model = self.network
        if self.dist.world > 1 and self.optimizer is not None:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(
                self.network, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.set_epoch(0)

    def set_epoch(self, epoch_in_stage: int) -> None:
        """Start epoch ``epoch_in_stage`` of the current stage (parts whose ``delay`` has not passed stay put)."""
        self.epoch_in_stage = epoch_in_stage
        parts = self.network.parts()
        self._delayed = [t for name, steps in self.current.delay.items() if epoch_in_stage < steps
                         for t in parts.get(name, [])]

    def train_mode(self) -> None:
        """Training mode, with frozen parts (and, with ``freeze_batch_norm``, batch norm) in inference mode."""
        self.network.train()
        if not self._train_encoder:
            self.network.encoder.eval()
        if self.params.freeze_batch_norm:
            for module in self.network.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One training step on a DataLoader batch of a :class:`FaceSet`.

        Returns:
            (the batch's mean loss, the mean weighted value of each loss term), detached.
        """
        stage = self.current
        images, targets = batch_targets(batch, self.device)
        render = stage.needs_render
        textures = render or "textures" in stage.free
        values = self.model(images, targets.principal, textures=textures and self.network.predicts_textures)
        inputs = self.pipeline(values, targets, render=render, renderer=stage.renderer, textures=textures)
        truth = truth_values(batch, self.device)
        if truth:
            inputs.extras["truth"] = truth
        total = torch.zeros(images.shape[0], device=self.device)
        terms = {}
        for key, loss in stage.losses.items():
            term = loss.weight * loss(inputs)
            terms[key] = term.detach().mean()
            total = total + term
        finite = torch.isfinite(total)
        objective = torch.where(finite, total, torch.zeros_like(total)).sum() / total.shape[0]
        if self.optimizer is not None:
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(objective).backward()
            for tensor in self._delayed:
                tensor.grad = None
            self.scaler.unscale_(self.optimizer)
            if self.params.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]],
                                               self.params.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
        return objective.detach(), terms

    @torch.no_grad()
    def predict(self, faces: FaceSet, batch_size: int) -> tuple[dict[str, torch.Tensor], float]:
        """The network's physical values for every face of ``faces`` (textures not decoded) and the
        milliseconds per face the network took."""
        self.network.eval()
        loader = torch.utils.data.DataLoader(faces, batch_size=batch_size, shuffle=False)
        outputs: dict[str, list[torch.Tensor]] = {}
        seconds = 0.0
        for batch in loader:
            images, targets = batch_targets(batch, self.device)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            started = time.perf_counter()
            values = self.network(images, targets.principal, textures=False)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            seconds += time.perf_counter() - started
            for key, value in values.items():
                if key != "textures":
                    outputs.setdefault(key, []).append(value)
        return {k: torch.cat(v) for k, v in outputs.items()}, 1000.0 * seconds / max(1, len(faces))

    @torch.no_grad()
    def validate(self, faces: FaceSet, batch_size: int) -> dict[str, float]:
        """Mean landmark error (pixels, and over the inter-ocular distance) of the network on
        ``faces``, geometry error (mm after rigid alignment, face region) when they have ground truth,
        and the network's milliseconds per face."""
        values, ms = self.predict(faces, batch_size)
        metrics = {"ms_per_image": ms}
        metrics.update(measure(self.pipeline, values, faces, self.device))
        return metrics


@torch.no_grad()
def measure(pipeline: FacePipeline, values: dict[str, torch.Tensor], faces: FaceSet, device: torch.device,
            chunk: int = 32) -> dict[str, float]:
    """Landmark and (with ground truth) geometry errors of physical ``values`` (N, ...) for ``faces``:
    ``landmark_px`` and ``landmark_iod`` (means over faces); ``geometry_mm`` and
    ``geometry_mm_scaled``: the evaluation's vertex-to-vertex mean over every face-region point of
    every face, after rigid and similarity alignment (:func:`.accuracy.geometry_distances`);
    ``light_rmse``: the evaluation's light error, the RMS difference of the irradiance on
    camera-facing normals after the best scale per channel, relative to the truth's RMS (mean over
    faces)."""
    from facerecon.evaluation.scoring import camera_facing_normals, light_rmse

    model = pipeline.model
    normals = torch.as_tensor(camera_facing_normals(500), dtype=torch.float32, device=device)
    px, iod, light = [], [], []
    distances: dict[str, list] = {"rigid": [], "scaled": []}
    start = 0
    for batch in torch.utils.data.DataLoader(faces, batch_size=chunk, shuffle=False):
        _, targets = batch_targets(batch, device)
        count = targets.batch
        own = {k: v[start:start + count].to(device) for k, v in values.items()}
        start += count
        decoded = pipeline.decode(own, targets, geometry=False, textures=False)
        distance, relative = landmark_error(decoded.camera.project(decoded.landmarks), targets.landmarks)
        px.append(distance)
        iod.append(relative)
        truth = truth_values(batch, device)
        if truth:
            predicted = model.shape(own["identity"], own["expression"])
            true = model.shape(truth["identity"], truth["expression"])
            for key, value in geometry_distances(predicted, true, model.faces, model.landmarks).items():
                distances[key].append(value)
        if "light" in truth:
            directions = normals.expand(count, -1, -1)
            predicted_light = pipeline.lighting.irradiance(own["light"], directions).cpu().numpy()
            true_light = pipeline.lighting.irradiance(truth["light"].float(), directions).cpu().numpy()
            light += [light_rmse(p, t) for p, t in zip(predicted_light, true_light)]
    metrics = {"landmark_px": float(torch.cat(px).mean()), "landmark_iod": float(torch.cat(iod).mean())}
    if distances["rigid"]:
        metrics["geometry_mm"] = float(np.concatenate(distances["rigid"]).mean())
        metrics["geometry_mm_scaled"] = float(np.concatenate(distances["scaled"]).mean())
    if light:
        metrics["light_rmse"] = float(np.mean(light))
    return metrics
