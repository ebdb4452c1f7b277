"""The ``train`` task: DeepNextFace, a network reconstructing faces in one pass, trained self-supervised.

Per run, into the output folder: ``checkpoints/`` (safetensors: ``epoch-NNNN`` and ``last``, each
with the resolved recipe and the training state, see :mod:`.network`), ``tensorboard/`` (losses,
learning rate, validation metrics), ``training.json`` (the same history), ``loss.png`` (the loss
curve and the validation metrics by epoch), ``validation.png`` (inputs and the network's faces
on the first validation faces) and, when training on photos, ``faces.json`` (their detections).

The stages of the recipe run in order (``steps`` = epochs); :class:`.training.Trainer` does the
steps. Under torchrun every process trains on its share of each batch (DistributedDataParallel);
rank 0 alone validates, logs and writes checkpoints, and the renderers of the other ranks draw
other path-tracing samples (their ``seed`` is offset by the rank).
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from facerecon.errors import FaceReconError
from facerecon.interfaces import RunContext, RunSummary, Task
from facerecon.io import atomic_path, atomic_write
from facerecon.pipeline import FacePipeline
from facerecon.runner import RESOLVED_NAME

from .facesets import FaceSet
from .network import build_network, load_checkpoint, load_network_state, load_optimizer_state, save_checkpoint
from .photos import photo_faces
from .synthetic import set_key, synthetic_faces
from .training import Distributed, PreparedStage, Trainer, measure

__all__ = ["TrainTask", "LAST_CHECKPOINT"]

#: The newest checkpoint of a run, relative to its output folder.
LAST_CHECKPOINT = Path("checkpoints") / "last.safetensors"
#: Seed offset of the validation faces.
VALIDATION_SEED_OFFSET = 1_000_003
#: Validation faces shown in validation.png.
PREVIEW_FACES = 8


def rank_node(node: Any, rank: int) -> Any:
    """``node`` with its ``seed`` parameter (if it has one) offset for process ``rank``."""
    if node is None or rank == 0 or not any(f.name == "seed" for f in dataclasses.fields(node.params)):
        return node
    params = dataclasses.replace(node.params, seed=node.params.seed + 1_000_003 * rank)
    return dataclasses.replace(node, params=params)


class TrainTask(Task):
    """Trains the DeepNextFace network of the recipe (see :class:`plugins.tasks.TrainParams`)."""

    def run(self, context: RunContext) -> RunSummary:
        """Prepare the faces, train stage by stage with validation and checkpoints, summarise."""
        dist = Distributed.start(self.device)
        try:
            return self._run(context, dist)
        finally:
            dist.close()

    # -- set-up ------------------------------------------------------------------------------
    def _run(self, context: RunContext, dist: Distributed) -> RunSummary:
        params, recipe, build = self.params, context.recipe.root, context.build
        output = context.output
        last = output / LAST_CHECKPOINT
        if last.exists() and not params.resume:
            raise FaceReconError(
                f"{output} already holds a training run ({last}). Continue it with `facerecon run ... --resume`, "
                "or pick another --output.")
        torch.manual_seed(context.seed)
        renderer = build(rank_node(recipe.renderer, dist.rank))
        pipeline = FacePipeline(build("model"), build("light"), build("reflectance"), renderer)
        network = build_network(recipe, build, pipeline).to(dist.device)
        stages = self._prepare_stages(recipe.stages, build, pipeline, dist.rank)
        train, validation = self._faces(context, pipeline, dist)
        trainer = Trainer(network, pipeline, stages, params, dist)
        summary = RunSummary()
        started = time.perf_counter()
        log = TrainingLog(output, params, dist.main)
        state = {"stage": 0, "epoch": 0, "global_epoch": 0, "step": 0, "history": log.history, "images": 0,
                 "train_seconds": 0.0}
        tensors = None
        if params.resume and last.exists():
            tensors, metadata = load_checkpoint(last)
            load_network_state(network, tensors, last)
            state = metadata["training"]
            log.history = state["history"]
        elif dist.main and validation is not None:
            log.baselines(self._baselines(trainer, validation))
            log.epoch(0, "untrained", trainer.validate(validation, params.batch_size))
        self._train(context, trainer, train, validation, state, tensors, log, dist)
        summary.seconds = time.perf_counter() - started
        if dist.main:
            summary.rows.append(log.summary_row(state))
        return summary

    def _prepare_stages(self, stages: dict, build: Any, pipeline: FacePipeline, rank: int) -> list[PreparedStage]:
        """Losses, renderers and expanded group names of every stage (names checked)."""
        if not stages:
            raise FaceReconError("The train recipe has no stages: add at least one, e.g. stages: {train: {steps: 10, "
                                 "lr: 0.001, free: [pose, focal, identity, expression, light], losses: {...}}}.")
        layout = pipeline.layout
        prepared = []
        for name, stage in stages.items():
            free = layout.expand(stage.free, what=f"parameter group in stages.{name}.free")
            if not free:
                raise FaceReconError(f"Stage '{name}' frees no parameter group, so nothing would train: list the groups "
                                     f"whose network parts train in stages.{name}.free ({', '.join(layout.names())}).")
            scales = {g: s for key, s in stage.lr_scale.items()
                      for g in layout.expand([key], what=f"parameter group in stages.{name}.lr_scale")}
            delays = {g: d for key, d in stage.delay.items()
                      for g in layout.expand([key], what=f"parameter group in stages.{name}.delay")}
            losses = {key: build(node) for key, node in stage.losses.items()}
            if not losses:
                raise FaceReconError(f"Stage '{name}' has no losses: add some under stages.{name}.losses.")
            renderer = build(rank_node(stage.renderer, rank)) if stage.renderer is not None else None
            prepared.append(PreparedStage(name, stage, losses, renderer, free, scales, delays))
        return prepared

    def _faces(self, context: RunContext, pipeline: FacePipeline, dist: Distributed) -> tuple[FaceSet, FaceSet | None]:
        """The training faces and the validation faces (synthetic ones with ground truth first)."""
        params, build = self.params, context.build
        size, margin = params.image_size, params.crop_margin
        synthetic = params.synthetic
        train_parts, validation_parts = [], []
        if params.data in ("synthetic", "both") or synthetic.validation > 0:
            renderer = build(synthetic.renderer) if synthetic.renderer is not None else pipeline.renderer
            cache = Path(build.cache_dir) / "network-faces" / set_key(pipeline, renderer, synthetic, size, margin)
            for count, seed, wanted, label in (
                    (synthetic.count, synthetic.seed, params.data in ("synthetic", "both"), "synthetic training faces"),
                    (synthetic.validation, synthetic.seed + VALIDATION_SEED_OFFSET, True, "synthetic validation faces")):
                if count <= 0 or not wanted:
                    continue
                arguments = (pipeline, renderer, synthetic, count, seed, size, margin, cache, label)
                if dist.main:  # rank 0 renders (or reads) the set, then every rank reads it
                    faces = synthetic_faces(*arguments)
                dist.barrier()
                if not dist.main:
                    faces = synthetic_faces(*arguments)
                (train_parts if "training" in label else validation_parts).append(faces)
        if params.data in ("photos", "both"):
            photos = self._photo_faces(context, dist)
            order = torch.randperm(len(photos), generator=torch.Generator().manual_seed(context.seed)).tolist()
            held = int(round(len(photos) * params.photo_validation)) if len(photos) > 1 else 0
            train_parts.append(photos.subset(order[held:]))
            if held:
                validation_parts.append(photos.subset(order[:held]))
        train = FaceSet.concat(train_parts) if train_parts else None
        if train is None or len(train) < params.batch_size * dist.world:
            raise FaceReconError(
                f"There are {0 if train is None else len(train)} training faces, fewer than one batch "
                f"({params.batch_size} per process × {dist.world}): add photos, raise task.synthetic.count or lower "
                "task.batch_size.")
        # Synthetic validation faces come first: they have ground truth (geometry errors).
        validation = FaceSet.concat(validation_parts[:1]) if validation_parts else None
        return train, validation

    def _photo_faces(self, context: RunContext, dist: Distributed) -> FaceSet:
        build, params = context.build, self.params
        missing = [slot for slot in ("dataset", "face_detector", "landmark_detector") if build(slot) is None]
        if missing:
            raise FaceReconError(f"task.data {params.data} trains on the dataset's photos, but the recipe has no "
                                 f"{', '.join(missing)}: add them (e.g. dataset: {{type: images}}, face_detector: "
                                 "{type: auto}, landmark_detector: {type: dlib}) and give the photos with --input.")
        summary = RunSummary()
        cache = context.output / "faces.json"
        arguments = (build("dataset"), build("face_detector"), build("landmark_detector"), params.image_size,
                     params.crop_margin, params.faces, cache, summary)
        if dist.main:
            faces = photo_faces(*arguments, write=True)
        dist.barrier()
        if not dist.main:
            faces = photo_faces(*arguments, write=False)
        for item, reason in summary.skipped:
            if dist.main:
                tqdm.write(f"skipped {item}: {reason}")
        return faces

    def _baselines(self, trainer: Trainer, validation: FaceSet) -> dict[str, float]:
        """Errors of the evaluation's reference shapes placed at the true pose and camera (what a
        network must beat): the mean face, and the mean identity with the true expression (both
        lit by the true light, so there is no light baseline: the untrained network's initial light is it)."""
        if not validation.truth:
            return {}
        out = {}
        for name, keep in (("mean_face", ()), ("expression_only", ("expression",))):
            values = dict(validation.truth)
            for group in ("identity", "expression"):
                if group not in keep:
                    values[group] = torch.zeros_like(values[group])
            metrics = measure(trainer.pipeline, values, validation, trainer.device)
            out.update({f"{name}_{k}": v for k, v in metrics.items() if k != "light_rmse"})
        return out

    # -- the loop ----------------------------------------------------------------------------
    def _train(self, context: RunContext, trainer: Trainer, train: FaceSet, validation: FaceSet | None,
               state: dict, tensors: dict | None, log: "TrainingLog", dist: Distributed) -> None:
        params = self.params
        sampler = torch.utils.data.DistributedSampler(train, num_replicas=dist.world, rank=dist.rank, shuffle=True,
                                                      seed=context.seed, drop_last=True)
        loader = torch.utils.data.DataLoader(train, batch_size=params.batch_size, sampler=sampler, drop_last=True,
                                             num_workers=params.workers, pin_memory=dist.device.type == "cuda",
                                             persistent_workers=params.workers > 0)
        steps_per_epoch = len(loader)
        recipe_text = (context.output / RESOLVED_NAME).read_text() if (context.output / RESOLVED_NAME).exists() else ""
        deadline = time.perf_counter() + params.max_minutes * 60.0 if params.max_minutes > 0 else None
        epochs_this_run, stop = 0, False
        for index in range(state["stage"], len(trainer.stages)):
            prepared = trainer.stages[index]
            trainer.begin_stage(index, steps_per_epoch)
            if tensors is not None and state.get("optimizer") and trainer.optimizer is not None:
                load_optimizer_state(trainer.optimizer, tensors, state["optimizer"])
                trainer.scheduler.load_state_dict(state["scheduler"])
            tensors = None
            for epoch in range(state["epoch"] if index == state["stage"] else 0, int(prepared.stage.steps)):
                trainer.set_epoch(epoch)
                trainer.train_mode()
                sampler.set_epoch(state["global_epoch"])
                epoch_started = time.perf_counter()
                bar = tqdm(loader, desc=f"{prepared.name} epoch {epoch + 1}/{prepared.stage.steps}", leave=False,
                           dynamic_ncols=True, disable=None if dist.main else True)
                for batch in bar:
                    loss, terms = trainer.step(batch)
                    state["step"] += 1
                    state["images"] += params.batch_size * dist.world
                    log.step(state["step"], loss, terms, trainer.optimizer)
                    if dist.main and not bar.disable and state["step"] % params.log_every == 0:
                        bar.set_postfix(loss=f"{float(loss):.4g}")
                    if deadline is not None and dist.broadcast_flag(time.perf_counter() > deadline):
                        stop = True
                        break
                bar.close()
                state["train_seconds"] += time.perf_counter() - epoch_started
                state["global_epoch"] += 1
                epochs_this_run += 1
                finished_stage = epoch + 1 >= int(prepared.stage.steps)
                state["stage"], state["epoch"] = (index + 1, 0) if finished_stage else (index, epoch + 1)
                if dist.main:
                    if validation is not None:
                        metrics = trainer.validate(validation, params.batch_size)
                        log.epoch(state["global_epoch"], prepared.name, metrics)
                        log.preview(trainer, validation)
                    state["history"] = log.history
                    self._checkpoint(context.output, trainer, recipe_text, state, finished_stage)
                    log.write()
                dist.barrier()
                if stop or (params.max_epochs and epochs_this_run >= params.max_epochs):
                    return

    def _checkpoint(self, output: Path, trainer: Trainer, recipe_text: str, state: dict, finished_stage: bool) -> None:
        """Write epoch-NNNN.safetensors and last.safetensors; keep the newest ``keep_checkpoints`` epoch files."""
        folder = output / "checkpoints"
        training = {k: v for k, v in state.items() if k not in ("optimizer", "scheduler")}
        optimizer = None if finished_stage else trainer.optimizer
        if optimizer is not None:
            training["scheduler"] = trainer.scheduler.state_dict()
        path = save_checkpoint(folder / f"epoch-{state['global_epoch']:04d}.safetensors", trainer.network, recipe_text,
                               training, optimizer)
        with atomic_path(folder / LAST_CHECKPOINT.name) as tmp:
            shutil.copyfile(path, tmp)
        for old in sorted(folder.glob("epoch-*.safetensors"))[:-max(1, self.params.keep_checkpoints)]:
            old.unlink()


class TrainingLog:
    """The training history (losses per logged step, metrics per epoch), TensorBoard and pictures.

    Only the main process writes; the others keep nothing.
    """

    def __init__(self, output: Path, params: Any, main: bool) -> None:
        self.output, self.params, self.main = output, params, main
        #: steps/loss/lr: every ``log_every`` steps; terms: name -> {steps, values}; epochs: validation rows.
        self.history: dict[str, Any] = {"steps": [], "loss": [], "lr": [], "terms": {}, "epochs": [], "baselines": {}}
        self._pending: list[torch.Tensor] = []
        self._pending_terms: dict[str, list[torch.Tensor]] = {}
        self.writer = None
        if main and params.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise FaceReconError("TensorBoard logs need the tensorboard package: pip install tensorboard "
                                     "(or set task.tensorboard: false).") from None
            self.writer = SummaryWriter(str(output / "tensorboard"))

    def baselines(self, metrics: dict[str, float]) -> None:
        """Record reference errors (the mean face's)."""
        self.history["baselines"] = metrics

    def step(self, step: int, loss: torch.Tensor, terms: dict[str, torch.Tensor], optimizer: Any) -> None:
        """Accumulate a step's loss; every ``log_every`` steps record their mean (one device sync)."""
        if not self.main:
            return
        self._pending.append(loss)
        for key, value in terms.items():
            self._pending_terms.setdefault(key, []).append(value)
        if step % self.params.log_every:
            return
        mean = float(torch.stack(self._pending).mean())
        lr = float(optimizer.param_groups[0]["lr"]) if optimizer is not None else 0.0
        self.history["steps"].append(step)
        self.history["loss"].append(mean)
        self.history["lr"].append(lr)
        for key, values in self._pending_terms.items():
            value = float(torch.stack(values).mean())
            term = self.history["terms"].setdefault(key, {"steps": [], "values": []})
            term["steps"].append(step)
            term["values"].append(value)
            if self.writer:
                self.writer.add_scalar(f"train/{key}", value, step)
        if self.writer:
            self.writer.add_scalar("train/loss", mean, step)
            self.writer.add_scalar("train/lr", lr, step)
        self._pending, self._pending_terms = [], {}

    def epoch(self, epoch: int, stage: str, metrics: dict[str, float]) -> None:
        """Record the validation metrics after ``epoch`` epochs (0: the untrained network)."""
        row = {"epoch": epoch, "stage": stage, **{k: round(v, 5) for k, v in metrics.items()}}
        self.history["epochs"].append(row)
        if self.writer:
            for key, value in metrics.items():
                self.writer.add_scalar(f"validation/{key}", value, epoch)
            self.writer.flush()
        tqdm.write("epoch {epoch} ({stage}): ".format(**row) + ", ".join(
            f"{k} {v:.4g}" for k, v in metrics.items()))

    def write(self) -> None:
        """training.json and loss.png."""
        with atomic_write(self.output / "training.json") as handle:
            json.dump(self.history, handle, indent=1)
        self._plot()

    def _plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        history = self.history
        metrics = [k for k in ("geometry_mm", "geometry_mm_scaled", "landmark_px", "light_rmse")
                   if any(k in e for e in history["epochs"])]
        fig, axes = plt.subplots(1, 1 + len(metrics), figsize=(5 * (1 + len(metrics)), 3.6), squeeze=False)
        ax = axes[0][0]
        if history["steps"]:
            ax.plot(history["steps"], history["loss"], label="total", color="black")
            for key, term in history["terms"].items():
                ax.plot(term["steps"], term["values"], label=key, lw=0.8)
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        else:  # a run shorter than task.log_every steps
            ax.text(0.5, 0.5, "no step logged yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("step")
        ax.set_title("training loss (weighted terms)")
        for ax, key in zip(axes[0][1:], metrics):
            epochs = [e for e in history["epochs"] if key in e]
            ax.plot([e["epoch"] for e in epochs], [e[key] for e in epochs], marker="o", label="network")
            for name, style in (("mean_face", "--"), ("expression_only", ":")):
                baseline = history["baselines"].get(f"{name}_{key}")
                if baseline is not None:
                    ax.axhline(baseline, color="grey", ls=style, label=name.replace("_", " "))
            ax.set_xlabel("epoch")
            ax.set_title(f"validation {key}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        with atomic_path(self.output / "loss.png") as tmp:
            fig.savefig(tmp, dpi=90, format="png")
        plt.close(fig)

    @torch.no_grad()
    def preview(self, trainer: Trainer, faces: FaceSet) -> None:
        """validation.png: the first validation crops above the network's faces rendered over them."""
        import numpy as np

        from facerecon.imaging import linear_to_srgb, write_image

        from .facesets import batch_targets

        part = faces.subset(range(min(PREVIEW_FACES, len(faces))))
        batch = next(iter(torch.utils.data.DataLoader(part, batch_size=len(part))))
        images, targets = batch_targets(batch, trainer.device)
        trainer.network.eval()
        values = trainer.network(images, targets.principal)
        decoded = trainer.pipeline.decode(values, targets)
        render = trainer.pipeline.render(decoded)
        mask = render.mask[..., None]
        overlay = linear_to_srgb((targets.image * (1 - mask) + render.image * mask).clamp(0, 1))
        grid = torch.cat([torch.cat(list(images), 1), torch.cat(list(overlay), 1)], 0)
        write_image(self.output / "validation.png", (grid.cpu().numpy() * 255).round().astype(np.uint8))

    def summary_row(self, state: dict) -> dict[str, Any]:
        """The run's row: final validation metrics, the untrained network's and the mean face's, speed."""
        epochs = self.history["epochs"]
        row: dict[str, Any] = {"face": "validation", "status": "ok", "epochs": state["global_epoch"],
                               "steps": state["step"]}
        if epochs:
            final, first = epochs[-1], epochs[0]
            for key in ("geometry_mm", "geometry_mm_scaled", "landmark_px", "landmark_iod", "light_rmse", "ms_per_image"):
                if key in final:
                    row[key] = final[key]
            for key in ("geometry_mm", "geometry_mm_scaled", "landmark_px", "light_rmse"):
                if key in first and first["stage"] == "untrained":
                    row[f"{key}_untrained"] = first[key]
        for key, value in self.history["baselines"].items():
            if key in (f"{name}_{k}" for name in ("mean_face", "expression_only")
                       for k in ("geometry_mm", "geometry_mm_scaled", "landmark_px")):
                row[key] = round(value, 5)
        if state.get("train_seconds"):
            row["train_images_per_s"] = round(state["images"] / state["train_seconds"], 2)
        if (self.output / "validation.png").exists():
            row["preview"] = str(self.output / "validation.png")
        return row
