"""The ``reconstruct`` task: every face of the inputs in one network pass, optionally refined.

Faces are collected as the ``fit`` task collects them (:class:`.faces.FaceCollector`: detection,
landmarks, the crop the network was trained on, the output folder's claims) and passed through
the trained network ``batch_size`` at a time. The recipe's
``stages``, if any, then refine the network's estimate by test-time optimisation
(:func:`facerecon.optimize.run_stage` starting from the network's physical values), and every
face is written exactly as ``fit`` writes it (:class:`.faces.ResultWriter`); the texture decoders
run only when an exporter writes maps (:attr:`facerecon.interfaces.Exporter.writes_maps`). Each face's row
reports the landmark error of the network alone (``network_landmark_error_iod``) next to the
final one (``landmark_error_iod``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from facerecon.contour import landmark_trust
from facerecon.errors import FaceReconError
from facerecon.imaging import linear_to_srgb
from facerecon.interfaces import RunContext, RunSummary, Task
from facerecon.optimize import LeafParameters, StageHistory, run_stage
from facerecon.pipeline import FacePipeline
from facerecon.recipe import Builder, to_plain

from .accuracy import landmark_error
from .faces import FaceCollector, FaceJob, ResultWriter, face_failure, prepare_stages
from .network import build_network, checkpoint_recipe, load_checkpoint, load_network_state

__all__ = ["ReconstructTask"]


@dataclass(frozen=True)
class _Collecting:
    """What :class:`FaceCollector` reads: the reconstruct params plus the network's crop framing."""

    faces: str
    image_size: int
    crop_margin: float
    focal: float
    resume: bool


class ReconstructTask(Task):
    """Reconstructs every face with a trained network (see :class:`plugins.tasks.ReconstructParams`)."""

    def run(self, context: RunContext) -> RunSummary:
        """Load the network, collect faces, predict in batches, refine, export."""
        params, build, recipe = self.params, context.build, context.recipe.root
        tensors, metadata = load_checkpoint(params.checkpoint)
        trained = checkpoint_recipe(metadata, build.registry)
        self._check_slots(recipe, trained.root)
        trained_build = Builder(build.registry, build.device, build.cache_dir, trained)
        self.pipeline = FacePipeline(trained_build("model"), trained_build("light"), build("reflectance"), build("renderer"),
                                     contour=params.contour)
        self.network = build_network(trained.root, trained_build, self.pipeline).to(self.device).eval()
        load_network_state(self.network, tensors, params.checkpoint)
        framing = trained.root.task.params
        collecting = _Collecting(params.faces, params.image_size or framing.image_size, framing.crop_margin,
                                 framing.focal, params.resume)
        self.collector = FaceCollector(collecting, self.pipeline, build("face_detector"), build("landmark_detector"),
                                       context.outputs, context.debug)
        exporters = {key: build(node) for key, node in recipe.exporters.items()}
        self.writer = ResultWriter(self.pipeline, exporters, context.outputs, context.recipe, params)
        #: Whether the texture decoders run: only when an exporter writes maps (statistical maps otherwise).
        self.decode_maps = any(exporter.writes_maps for exporter in exporters.values())
        self.stages = prepare_stages(recipe.stages, self.pipeline, build)
        self.debug = context.debug
        summary = RunSummary()
        started = time.perf_counter()
        queue: list[FaceJob] = []
        for job in self.collector.jobs(build("dataset"), summary):
            queue.append(job)
            if len(queue) == params.batch_size:
                self._batch(queue, summary)
                self.collector.finished(queue)
                queue = []
        if queue:
            self._batch(queue, summary)
            self.collector.finished(queue)
        summary.seconds = time.perf_counter() - started
        return summary

    @staticmethod
    def _check_slots(recipe: Any, trained: Any) -> None:
        """The recipe's encoder, model and light, when set, must be the ones the network was trained with."""
        for slot in ("encoder", "model", "light"):
            mine, theirs = getattr(recipe, slot), getattr(trained, slot)
            if mine is None:
                continue
            if theirs is None or mine.type != theirs.type or to_plain(mine.params) != to_plain(theirs.params):
                shown = "none" if theirs is None else f"{{type: {theirs.type}, ...}} with {to_plain(theirs.params)}"
                raise FaceReconError(
                    f"The recipe's {slot} differs from the one the checkpoint's network was trained with ({shown}). "
                    f"Set {slot} to the training recipe's, or leave it out where the task allows.")

    def _batch(self, jobs: list[FaceJob], summary: RunSummary) -> None:
        """Predict a batch of faces, refine them through the stages, export each face that did not
        diverge; a batch's failure costs that batch (a face's writing, that face), not the run."""
        try:
            values, network_error, network_seconds, targets, histories = self._estimate(jobs)
        except Exception as exc:  # noqa: BLE001 - as the fit: the run goes on with the next faces
            if self.debug:
                raise
            self.writer.fail(jobs, summary, face_failure(exc, "reconstructing"))
            return
        rows = [{"network_landmark_error_iod": float(error), "seconds_network": round(network_seconds, 4)}
                for error in network_error]
        self.writer.write_batch(jobs, summary, lambda i: {k: v[i:i + 1] for k, v in values.items()}, targets,
                                histories, rows, "refinement failed", self.debug)

    def _estimate(self, jobs: list[FaceJob]):
        """The network's values for a batch, refined by the stages: (physical values, the network's
        own landmark error per face (iod), network seconds per face, targets, stage histories)."""
        device = self.device
        targets = self.collector.targets(jobs, device)
        started = time.perf_counter()
        with torch.no_grad():
            values = self.network(linear_to_srgb(targets.image).clamp(0, 1), targets.principal, textures=self.decode_maps)
            decoded = self.pipeline.decode(values, targets, geometry=False, textures=False)
            trust = landmark_trust(targets.landmarks, targets.landmarks_confidence)
            _, network_error = landmark_error(decoded.camera.project(decoded.landmarks), targets.landmarks, trust)
        network_seconds = (time.perf_counter() - started) / len(jobs)
        histories: dict[str, StageHistory] = {}
        if self.stages:
            parameters = LeafParameters(self.pipeline.layout, values)
            alive = torch.ones(len(jobs), dtype=torch.bool, device=device)
            label = jobs[0].name if len(jobs) == 1 else f"{len(jobs)} faces"
            for name, stage, losses, renderer in self.stages:
                histories[name] = run_stage(stage, parameters, self.pipeline, targets, losses, renderer, alive,
                                            label=f"{label} {name}")
            with torch.no_grad():
                values = parameters.physical()
        return values, network_error, network_seconds, targets, histories
