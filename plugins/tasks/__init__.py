"""Built-in tasks (registration only: light, no torch import)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facerecon import hookimpl, param


@dataclass(frozen=True)
class FitParams:
    """Parameters of the ``fit`` task (NextFace-style optimisation per face).

    The schedule itself lives in the recipe's ``stages``: which parameter groups are free (the
    camera's rotation, translation (``pose`` = both) and focal, the model's identity, expression,
    albedo and textures, the lighting's light), steps, learning rate, losses.
    """

    faces: Literal["all", "largest"] = param("all", "Fit every detected face, or only the largest one per image.")
    image_size: int = param(256, "Side in pixels of the square face crop the fit renders and compares.", ge=16, le=4096)
    crop_margin: float = param(1.6, "Crop side relative to the landmarks' extent.", gt=0)
    focal: float = param(2.0, "Initial focal length in units of the crop side (2.0 ≈ 28° field of view).", gt=0)
    batch_size: int = param(
        1, "Faces fitted together (from one or several images); each face's result is the same as alone. "
        "Larger batches are faster per face, on a GPU especially.", ge=1)
    resume: bool = param(True, "Skip faces whose output folder is complete from an earlier run of the same recipe "
                         "(a face made with other settings is redone).")
    suspect_landmark_error: float = param(
        0.15, "A face whose fitted landmarks lie further than this from the detected ones, in inter-ocular "
        "distances, is marked 'suspect' (a false face or a fit gone astray) instead of 'ok'.", gt=0)
    render_max_side: int = param(768, "Longest side of the full-photo renders written with the results.", ge=16, le=16384)
    envmap_size: tuple[int, int] = param((64, 128), "Height and width of the exported lat-long environment map.",
                                         ge=2, le=8192)


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in tasks."""
    registry.register(
        "task", "fit", params=FitParams, factory="plugins.tasks.fit:FitTask",
        summary="fit the morphable model to every face of every image (NextFace: landmarks -> photometric -> textures)",
        requires=("model", "reflectance", "light", "renderer", "face_detector", "landmark_detector", "dataset", "stages"),
    )
