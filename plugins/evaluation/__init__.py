"""Built-in accuracy evaluation (registration only: light, no torch import).

- task ``evaluate``: runs a fit recipe (and variants of it) on photos, scores every face against
  its ground truth (or, for photos without one, against the photo) and tabulates the results
  with reference baselines;
- dataset ``synthetic-faces``: ground-truth faces drawn from a model's priors, rendered by
  Mitsuba onto photo backgrounds, generated on demand into the cache folder;
- exporters ``prediction`` (what the evaluation reads), ``now`` and ``realy`` (submissions to the
  NoW and REALY benchmarks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from facerecon import hookimpl, param
from facerecon.evaluation.settings import BACKGROUNDS, DrawSettings
from facerecon.params import ParamError


@dataclass(frozen=True)
class EvaluateParams:
    """Parameters of the ``evaluate`` task.

    Runs ``recipe`` once per variant with the recipe's ``dataset`` as its input, then scores every
    face: against its ground truth when the dataset has one (geometry, landmarks, albedo, light,
    PSNR), else against its photo (landmark fit and PSNR). Writes ``evaluation.csv`` (one row per
    variant and face), ``accuracy.json`` (per variant, NoW-style statistics over every face-region
    point of every face), ``errors.png`` (histograms) and ``heatmap.png`` (mean error per vertex
    painted on the mean face).
    """

    recipe: str = param(
        "recipes/quickstart.yaml",
        "The fit recipe to evaluate; a relative path is looked up next to this recipe, then in the working directory.",
    )
    variants: dict[str, list[str]] = param(
        doc="Named variants of the recipe, each a list of KEY.PATH=VALUE overrides (an empty list: the recipe "
        "as written); each runs into <output>/<name>.",
        factory=lambda: {"fit": []},
    )
    baselines: list[Literal["mean-face", "expression-only"]] = param(
        doc="Reference shapes scored like predictions when the truth has them: mean-face (identity = "
        "expression = 0) and expression-only (mean identity, true expression), each placed by the best alignment.",
        factory=lambda: ["mean-face", "expression-only"],
    )
    crop_radius: float = param(95.0, "Geometry is measured on the truth's vertices within this distance (mm) of the nose tip.",
                               gt=0)
    scale: bool = param(False, "Align with a scale as well (similarity); rigid otherwise.")
    icp_iterations: int = param(30, "Most ICP iterations of the point-to-surface alignment.", ge=0, le=1000)
    plots: bool = param(True, "Write errors.png and heatmap.png.")


@dataclass(frozen=True)
class SyntheticFacesParams:
    """Parameters of the ``synthetic-faces`` dataset.

    Face i is drawn with the random generator seeded by (seed, i) — so the first faces of a larger
    set are those of a smaller one — rendered by Mitsuba 3 with its own principled BSDF under a sun
    and an ambient light onto a crop of a scikit-image photo, and stored with its ground truth
    under the cache folder (synthetic-faces/<key of the settings and the model>/).
    """

    count: int = param(20, "Number of faces.", ge=1, le=100_000)
    seed: int = param(0, "Seed of the random faces.", ge=0)
    model: str = param("bfm-lite", "Registered morphable model the faces are drawn from (built with its defaults).")
    spp: int = param(64, "Mitsuba samples per pixel.", ge=1, le=65536)
    noise: float = param(1.0, "Standard deviation of the sensor noise added to the photo, in 8-bit levels.", ge=0, le=64)
    backgrounds: list[str] = param(doc="scikit-image images (skimage.data.<name>) cropped for backgrounds.",
                                   factory=lambda: list(BACKGROUNDS))
    draw: DrawSettings = param(doc="Distributions of shape, pose, camera, light and skin.", factory=DrawSettings)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.backgrounds) - set(BACKGROUNDS))
        if not self.backgrounds or unknown:
            raise ParamError("backgrounds", f"must name images among {', '.join(BACKGROUNDS)}; got {unknown or 'none'}")


@dataclass(frozen=True)
class PredictionParams:
    """prediction.npz: what the evaluate task scores (mesh, landmarks, albedo, environment map, render)."""

    filename: str = param("prediction", "File stem of the .npz file.")


@dataclass(frozen=True)
class NowParams:
    """NoW benchmark submission: <stem>.obj (mesh, mm) and <stem>.npy (its 7 landmark points)."""

    filename: Optional[str] = param(None, "File stem; None: the face's name (NoW expects the image's stem).")


@dataclass(frozen=True)
class RealyParams:
    """REALY benchmark submission: <stem>.obj with the model's topology unchanged, and the template."""

    filename: Optional[str] = param(None, "File stem; None: the face's name (REALY expects the image's stem).")
    template: bool = param(
        True, "Also write realy_template.obj (this mesh, standing for the topology every result shares) and "
        "realy_keypoints.txt (its 68 landmark keypoints in REALY's barycentric format).")


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in evaluation components."""
    registry.register(
        "task", "evaluate", params=EvaluateParams, factory="plugins.evaluation.task:EvaluateTask",
        summary="run a fit recipe (and variants) on ground-truth or plain photos and tabulate accuracy and time",
        requires=("dataset",),
    )
    registry.register(
        "dataset", "synthetic-faces", params=SyntheticFacesParams, factory="plugins.evaluation.synthetic:SyntheticFaces",
        summary="ground-truth faces from a model's priors, rendered by Mitsuba onto photo backgrounds (cached)",
    )
    registry.register("exporter", "prediction", params=PredictionParams,
                      factory="plugins.evaluation.exporters:PredictionExporter",
                      summary="prediction.npz: mesh, landmarks, albedo, light and render, for the evaluate task")
    registry.register("exporter", "now", params=NowParams, factory="plugins.evaluation.exporters:NowExporter",
                      summary="NoW benchmark: mesh .obj (mm) + .npy with its 7 landmark points")
    registry.register("exporter", "realy", params=RealyParams, factory="plugins.evaluation.exporters:RealyExporter",
                      summary="REALY benchmark: .obj with unchanged topology (+ template and 68 keypoints)")
