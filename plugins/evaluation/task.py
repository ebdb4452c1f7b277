"""The ``evaluate`` task: run a fit recipe on photos with (or without) ground truth and score it.

For every variant (a named list of ``--set`` overrides of the recipe) the task runs the recipe
through :func:`facerecon.runner.run_recipe` into ``<output>/<variant>``, with the recipe's
``dataset`` replaced by the evaluation's own and the ``prediction`` exporter added; then it reads
each face folder's ``prediction.npz`` and scores it (:mod:`facerecon.evaluation.scoring`): against
the sample's truth file when there is one (a photo with several reconstructed faces is scored on
the one whose landmarks match the truth best), else against the photo. Baselines (reference
shapes stored with the truth) are scored like predictions. :mod:`.report` writes the tables and
plots; the rows returned (and printed by ``facerecon run``) are the per-variant summary on the
faces every variant reconstructed.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from facerecon.errors import FaceReconError
from facerecon.evaluation.prediction import PREDICTION_FILE, load_prediction
from facerecon.evaluation.scoring import ScoreSettings, score_baseline, score_photo, score_prediction
from facerecon.evaluation.truth import FaceTruth, load_truth
from facerecon.imaging import read_image
from facerecon.interfaces import RunContext, RunSummary, Task
from facerecon.recipe import load_recipe, to_plain
from facerecon.runner import run_recipe

from .report import FaceRecord, plot_errors, plot_heatmap, summarise, write_summary, write_table

__all__ = ["EvaluateTask"]

#: Key of the exporter the task adds to the evaluated recipe.
_EXPORTER = "evaluation_prediction"
#: Statuses of result rows that have a reconstruction (a suspect face is scored like any other).
_RECONSTRUCTED = ("ok", "suspect", "resumed")


@dataclass
class _Photo:
    """An input photo: its name, its file (or the image itself when it has none) and its truth file."""

    name: str
    path: Path | None
    image: np.ndarray | None
    truth: Path | None

    def read(self) -> np.ndarray:
        """(H, W, 3) uint8 sRGB photo."""
        return self.image if self.image is not None else read_image(self.path)


class _Truths:
    """The photos' truth files by name, read when asked for (a few are kept: each is megabytes)."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self._load = functools.lru_cache(maxsize=4)(load_truth)

    def get(self, name: str) -> FaceTruth | None:
        """The truth of photo ``name``, or None when it has none."""
        path = self.paths.get(name)
        return None if path is None else self._load(path)

    def first(self) -> FaceTruth | None:
        """Any one truth (they share the model), or None."""
        return self.get(next(iter(self.paths))) if self.paths else None


def _flow(value) -> str:
    """A value as one line of YAML (for a ``--set`` override)."""
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 20).strip()


class EvaluateTask(Task):
    """Runs a recipe's variants on the dataset and scores every face (see :class:`EvaluateParams`)."""

    def run(self, context: RunContext) -> RunSummary:
        """Run every variant, score its faces and the baselines, write the report."""
        if context.host is None:
            raise FaceReconError("The evaluate task runs other recipes and needs the plugin host; run it with "
                                 "`facerecon run` (or facerecon.runner.run_recipe).")
        started = time.perf_counter()
        params = self.params
        recipe_path = self._recipe_path(context)
        registry = context.host.registry
        photos, skipped = self._photos(context)
        overrides = [f"dataset={_flow(to_plain(context.recipe.root.dataset))}", f"exporters.{_EXPORTER}={{type: prediction}}"]
        variants = {name: [*sets, *overrides] for name, sets in params.variants.items()}
        if not variants:
            raise FaceReconError("The evaluate task has no variants to run; give at least one, e.g. variants: {fit: []}.")
        for sets in variants.values():  # a typo in the last variant should cost nothing
            load_recipe(recipe_path, registry, sets)
        device = context.recipe.root.device
        settings = ScoreSettings(params.crop_radius, params.scale, params.icp_iterations)
        truths = _Truths({p.name: p.truth for p in photos if p.truth is not None})

        records: list[FaceRecord] = []
        for name, sets in variants.items():
            folder = context.output / name
            summary = run_recipe(recipe_path, context.host, sets, output=str(folder),
                                 device=None if device == "auto" else device, seed=context.seed, debug=context.debug)
            records += self._score_variant(name, summary, folder, photos, truths, settings)
        for baseline in params.baselines:
            for photo in photos:
                truth = truths.get(photo.name)
                if truth is not None and baseline in truth.baselines:
                    score = score_baseline(baseline, truth, settings)
                    records.append(FaceRecord(baseline, photo.name, "ok", score.metrics, math.nan,
                                              score.geometry.vertex_errors, score.geometry.surface_errors))
        rows = self._report(context.output, records, photos, truths, recipe_path)
        return RunSummary(rows=rows, skipped=skipped, seconds=time.perf_counter() - started)

    def _recipe_path(self, context: RunContext) -> Path:
        """The evaluated recipe: next to the evaluating recipe first, then from the working directory."""
        given = Path(self.params.recipe).expanduser()
        source = Path(str(context.recipe.source))
        candidates = [given] if given.is_absolute() else [source.parent / given, Path.cwd() / given]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        raise FaceReconError(
            f"The evaluate task's recipe {self.params.recipe!r} was not found (looked for "
            f"{', '.join(str(c) for c in candidates)}). Set task.recipe to a recipe file.")

    @staticmethod
    def _photos(context: RunContext) -> tuple[list[_Photo], list[tuple[str, str]]]:
        """The dataset's photos (generating synthetic ones now) and the unreadable ones."""
        dataset = context.build("dataset")
        if dataset is None:
            raise FaceReconError("The evaluate task needs a dataset, e.g. dataset: {type: synthetic-faces}.")
        photos, skipped = [], []
        for sample in dataset:
            if sample.error is not None:
                skipped.append((sample.name, sample.error))
            else:
                photos.append(_Photo(sample.name, sample.path, sample.image if sample.path is None else None, sample.truth))
        return photos, skipped

    @staticmethod
    def _score_variant(variant: str, summary, folder: Path, photos: list[_Photo], truths: _Truths,
                       settings: ScoreSettings) -> list[FaceRecord]:
        """Score every reconstructed face of one variant's run."""
        done = [row for row in summary.rows if row.get("status") in _RECONSTRUCTED]
        reasons = dict(summary.skipped)
        records = []
        for photo in photos:
            mine = [row for row in done if row["face"] == photo.name or str(row["face"]).startswith(f"{photo.name}_face")]
            if not mine:
                records.append(FaceRecord(variant, photo.name, str(reasons.get(photo.name, "not found"))))
                continue
            missing = [row for row in mine if not (folder / row["face"] / PREDICTION_FILE).is_file()]
            if missing:
                records.append(FaceRecord(variant, photo.name, f"no {PREDICTION_FILE} (a resumed face from a run "
                                          "without it: delete the face folder or --set task.resume=false)"))
                continue
            image = photo.read()
            predictions = {row["face"]: load_prediction(folder / row["face"]) for row in mine}
            seconds = {row["face"]: float(row.get("seconds", math.nan)) for row in mine}
            truth = truths.get(photo.name)
            if truth is None:  # a photo without truth: every face counts
                for face, prediction in predictions.items():
                    records.append(FaceRecord(variant, face, "ok", score_photo(prediction, image), seconds[face]))
                continue
            face = min(predictions, key=lambda f: _landmark_distance(predictions[f], truth))
            score = score_prediction(predictions[face], truth, image, settings)
            records.append(FaceRecord(variant, photo.name, "ok", score.metrics, seconds[face],
                                      score.geometry.vertex_errors, score.geometry.surface_errors))
        return records

    def _report(self, output: Path, records: list[FaceRecord], photos: list[_Photo], truths: _Truths,
                recipe_path: Path) -> list[dict]:
        """Write the table, summary and plots; return the printed rows."""
        variants = list(dict.fromkeys(r.variant for r in records))
        fitted = [v for v in self.params.variants if v in variants]
        names = [r.face for r in records]
        common = set(names)
        for variant in fitted:
            common &= {r.face for r in records if r.variant == variant and r.ok}
        per_variant = {v: [r for r in records if r.variant == v] for v in variants}
        summary = {
            "recipe": str(recipe_path),
            "settings": {"crop_radius_mm": self.params.crop_radius, "scale": self.params.scale,
                         "icp_iterations": self.params.icp_iterations},
            "total_faces": len(photos), "common_faces": len(common),
            "common": {v: summarise(rs, common) for v, rs in per_variant.items()},
            "all": {v: summarise(rs) for v, rs in per_variant.items()},
        }
        write_table(records, output / "evaluation.csv")
        write_summary(summary, output)
        if self.params.plots:
            plot_errors(records, common, output / "errors.png")
            reference = truths.first()
            if reference is not None and "mean-face" in reference.baselines:
                plot_heatmap(records, common, reference.baselines["mean-face"], np.asarray(reference.faces),
                             output / "heatmap.png")
        rows = []
        for variant, row in summary["common"].items():
            found = summary["all"][variant]["faces"]
            rows.append({"variant": variant, "found": f"{found}/{len(photos)}", **row})
        return rows


def _landmark_distance(prediction, truth: FaceTruth) -> float:
    """Mean pixel distance between a prediction's fitted landmarks and the truth's (inf without)."""
    if prediction.landmarks_fitted is None:
        return math.inf
    return float(np.linalg.norm(np.asarray(prediction.landmarks_fitted) - truth.landmarks, axis=1).mean())
