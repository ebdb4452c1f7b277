"""The ``fit`` task: NextFace-style analysis-by-synthesis fitting of every face in the inputs.

Faces are collected from the images (:class:`.faces.FaceCollector`: detection, landmarks, a
square crop, a PnP initial pose) and fitted ``batch_size`` at a time through the core's batched
pipeline (:class:`facerecon.pipeline.FacePipeline`, :func:`facerecon.optimize.run_stage`). Faces
from several images share a batch; each face's folder is written as soon as its batch finishes.
"""
from __future__ import annotations

import time

import torch

from facerecon.interfaces import RunContext, RunSummary, Task
from facerecon.optimize import LeafParameters, StageHistory, run_stage
from facerecon.pipeline import FacePipeline

from .faces import FaceCollector, FaceJob, ResultWriter, face_failure, prepare_stages

__all__ = ["FitTask"]


class FitTask(Task):
    """Fits the morphable model to every face of every input image (see :class:`FitParams`)."""

    def run(self, context: RunContext) -> RunSummary:
        """Detect, crop, fit in batches stage by stage, export; skip and report bad images; resume
        finished faces."""
        recipe, build = context.recipe.root, context.build
        self.pipeline = FacePipeline(build("model"), build("light"), build("reflectance"), build("renderer"),
                                     contour=self.params.contour)
        self.stages = prepare_stages(recipe.stages, self.pipeline, build)
        collector = FaceCollector(self.params, self.pipeline, build("face_detector"), build("landmark_detector"),
                                  context.outputs, context.debug, focal_unit="photo")
        self.collector, self.debug = collector, context.debug
        self.writer = ResultWriter(self.pipeline, {key: build(node) for key, node in recipe.exporters.items()},
                                   context.outputs, context.recipe, self.params)
        summary = RunSummary()
        started = time.perf_counter()
        queue: list[FaceJob] = []
        for job in collector.jobs(build("dataset"), summary):
            queue.append(job)
            if len(queue) == self.params.batch_size:
                self._fit_batch(queue, summary)
                self.collector.finished(queue)
                queue = []
        if queue:
            self._fit_batch(queue, summary)
            self.collector.finished(queue)
        summary.seconds = time.perf_counter() - started
        return summary

    def _fit_batch(self, jobs: list[FaceJob], summary: RunSummary) -> None:
        """Fit a batch of faces through every stage and write each face that did not diverge.

        A face that diverges, or whose writing fails (full disk, a blocked folder, an exporter's
        bug), fails alone; an error inside the stages fails the faces of this batch. Either way
        the run goes on with the next faces.
        """
        try:
            parameters, targets, histories = self._optimise(jobs)
        except Exception as exc:  # noqa: BLE001 - a batch's failure costs that batch, not the night
            if self.debug:
                raise
            self.writer.fail(jobs, summary, face_failure(exc, "fitting"))
            return
        self.writer.write_batch(jobs, summary, parameters.face, targets, histories, [{} for _ in jobs],
                                "fit failed", self.debug)

    def _optimise(self, jobs: list[FaceJob]):
        """Run every stage on a batch; returns (parameters, targets, stage histories)."""
        device = self.device
        targets = self.collector.targets(jobs, device)
        layout = self.pipeline.layout
        parameters = LeafParameters(layout, layout.initial(len(jobs), device, **self.collector.initial_pose(jobs, device)))
        alive = torch.ones(len(jobs), dtype=torch.bool, device=device)
        histories: dict[str, StageHistory] = {}
        label = jobs[0].name if len(jobs) == 1 else f"{len(jobs)} faces"
        for name, stage, losses, renderer in self.stages:
            histories[name] = run_stage(stage, parameters, self.pipeline, targets, losses, renderer, alive,
                                        label=f"{label} {name}")
        return parameters, targets, histories
