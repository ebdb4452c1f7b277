"""Built-in tasks (registration only: light, no torch import)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Optional

from facerecon import hookimpl, param
from facerecon.evaluation.settings import BACKGROUNDS, DrawSettings
from facerecon.params import Component, ParamError
from facerecon.recipe.schema import ComponentNode


_CONTOUR_DOC = (
    "Which model points the detected jaw contour (iBUG 0-16) is matched with: 'sliding' moves each one to the "
    "face's silhouette along a line across the cheek as the head turns, as a detector's contour follows the "
    "outline (see facerecon.silhouette); 'fixed' keeps the model's landmark vertices.")


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
    focal: float = param(
        1.5, "Initial focal length in units of the photo's longer side (1.5 ≈ 37° field of view across it); every "
        "face of a photo starts with the same camera, so a small face far from the photo's centre is seen at a "
        "real lens's angle.", gt=0)
    batch_size: int = param(
        1, "Faces fitted together (from one or several images); each face's result is the same as alone. "
        "Larger batches are faster per face, on a GPU especially.", ge=1)
    resume: bool = param(True, "Skip faces whose output folder is complete from an earlier run of the same recipe "
                         "(a face made with other settings is redone).")
    suspect_landmark_error: float = param(
        0.15, "A face whose fitted landmarks lie further than this from the detected ones, in inter-ocular "
        "distances (its row's landmark_error_iod: points weighed by the detector's confidence, a turned "
        "head's jaw contour faded, as the landmark loss weighs them), is marked 'suspect' (a false face "
        "or a fit gone astray) instead of 'ok'.", gt=0)
    contour: Literal["sliding", "fixed"] = param("sliding", _CONTOUR_DOC)
    render_max_side: int = param(768, "Longest side of the full-photo renders written with the results.", ge=16, le=16384)
    envmap_size: tuple[int, int] = param((64, 128), "Height and width of the exported lat-long environment map.",
                                         ge=2, le=8192)


@dataclass(frozen=True)
class NetworkParams:
    """The DeepNextFace network around the recipe's encoder: heads generated from the parameter
    groups the model, lighting and camera declare, and texture decoders."""

    texture_decoder: Optional[Annotated[ComponentNode, Component("texture_decoder")]] = param(
        None, "Decoder of the per-texel diffuse, specular and roughness offsets (one network per map, e.g. "
        "{type: upconv}); unset: the network predicts no per-texel maps (the statistical maps are used).")
    texture_networks: Literal["shared", "per-map"] = param(
        "shared", "One decoder network for the 7 channels of the three maps (cheaper), or one per map: diffuse, "
        "specular, roughness (DeepNextFace's separate decoders).")
    head_hidden: int = param(0, "Width of a shared hidden layer (ReLU) of the heads; 0: linear heads on the latent.", ge=0)
    head_init_scale: float = param(
        0.01, "Multiplier of the heads' initial weights: small, so that an untrained network predicts the mean "
        "face with the initial light, facing the camera.")


@dataclass(frozen=True)
class SyntheticParams:
    """Random faces drawn as the ``synthetic-faces`` evaluation set draws them, rendered into face crops
    by facerecon's renderer, with their ground truth.

    Face i of a set is drawn with its own random stream (seed, i), apart from any evaluation set's;
    the training faces and the held-out validation faces come from different seeds. Sets are
    cached under the cache folder (``network-faces/<key>``), keyed by these settings, the crop
    settings and the components.
    """

    count: int = param(4096, "Training faces (0: train on the dataset's photos only).", ge=0)
    validation: int = param(128, "Held-out faces the network is measured on after each epoch (0: none).", ge=0)
    seed: int = param(0, "Seed of the training faces; the validation faces use seed + 1000003.", ge=0)
    renderer: Optional[Annotated[ComponentNode, Component("renderer")]] = param(
        None, "Renderer of the synthetic photos; unset: the recipe's renderer.")
    draw: DrawSettings = param(
        doc="Distributions of shape, expression, pose, camera, light and painted skin: by default those of the "
        "synthetic-faces evaluation set (the photo's image_size only sets the resolution the face is framed in "
        "before cropping; a texture_size near the crop's side paints faster, e.g. 256 for crops up to ~128 px).",
        factory=DrawSettings)
    jitter: float = param(0.04, "Crop jitter: random shift and scale change of the crop, in crop sides (detector noise).",
                          ge=0, le=0.5)
    noise: float = param(2.0, "Standard deviation of the sensor noise, in 8-bit levels.", ge=0, le=64)
    backgrounds: list[str] = param(
        doc=f"scikit-image pictures without faces (skimage.data.<name>, among {', '.join(BACKGROUNDS)}) cropped "
        "for backgrounds.", factory=lambda: list(BACKGROUNDS))

    def __post_init__(self) -> None:
        unknown = sorted(set(self.backgrounds) - set(BACKGROUNDS))
        if not self.backgrounds or unknown:
            raise ParamError("backgrounds", f"must name images among {', '.join(BACKGROUNDS)}; got {unknown or 'none'}")


@dataclass(frozen=True)
class TrainParams:
    """Parameters of the ``train`` task (DeepNextFace: a network trained self-supervised).

    The network is the recipe's ``encoder`` followed by heads and texture decoders (``network``).
    Training faces are synthetic (``synthetic``), the faces of the ``dataset``'s photos
    (``photos``: detected once and cached in the output folder), or both. The recipe's ``stages``
    run in order; ``steps`` counts epochs and ``free`` names the parameter groups whose network
    parts train (their heads, and the encoder with them; ``textures``: the texture decoders, the
    encoder frozen when nothing else is free); ``lr_scale`` multiplies a group's part's learning
    rate and ``delay`` holds a group's part back for that many epochs. Losses are the recipe's
    loss components, rendered by the stage's renderer.
    """

    data: Literal["synthetic", "photos", "both"] = param(
        "synthetic", "Training faces: synthetic, the dataset's photos (--input), or both.")
    image_size: int = param(256, "Side in pixels of the face crops the network sees and the losses compare.", ge=16)
    crop_margin: float = param(1.6, "Crop side relative to the landmarks' extent (the same crop at inference).", gt=1)
    focal: float = param(2.0, "Focal length the camera heads start from, in crop sides.", gt=0)
    network: NetworkParams = param(doc="Heads and texture decoders around the encoder.", factory=NetworkParams)
    synthetic: SyntheticParams = param(doc="The synthetic faces.", factory=SyntheticParams)
    batch_size: int = param(16, "Faces per step and process (the global batch is this times the process count).", ge=1)
    workers: int = param(0, "DataLoader worker processes.", ge=0)
    weight_decay: float = param(1e-4, "AdamW weight decay.", ge=0)
    lr_schedule: Literal["constant", "cosine"] = param(
        "cosine", "Learning rate over each stage: constant, or cosine decay to 1% (after the warm-up).")
    warmup_steps: int = param(0, "Steps of linear learning-rate warm-up at the start of each stage.", ge=0)
    grad_clip: float = param(1.0, "Largest global gradient norm (0: no clipping).", ge=0)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = param(
        "auto", "Arithmetic of the network: auto = bf16 on CUDA GPUs that support it, fp32 otherwise. "
        "Rendering and losses stay in fp32.")
    freeze_batch_norm: bool = param(
        False, "Keep batch-norm layers in inference mode (running statistics fixed); with several processes "
        "on CUDA, batch norm is synchronised across them otherwise.")
    max_minutes: float = param(
        0.0, "Stop after this many minutes in this run (0: no limit), validating and saving a checkpoint; the epoch "
        "in progress counts as done when --resume continues.", ge=0)
    max_epochs: int = param(0, "Stop after this many epochs in this run (0: every stage to its end); --resume continues.",
                            ge=0)
    log_every: int = param(10, "Steps between loss records (TensorBoard, loss curve).", ge=1)
    keep_checkpoints: int = param(2, "Epoch checkpoints kept besides last.safetensors.", ge=1)
    resume: bool = param(
        False, "Continue from the output folder's last checkpoint (`facerecon run --resume`); without it a folder "
        "that holds checkpoints is an error.")
    photo_validation: float = param(0.1, "Share of the dataset's faces held out for validation (data: photos, both).",
                                    ge=0, lt=1)
    tensorboard: bool = param(True, "Write TensorBoard logs into <output>/tensorboard.")
    faces: Literal["all", "largest"] = param("all", "Faces used per training photo.")


@dataclass(frozen=True)
class ReconstructParams:
    """Parameters of the ``reconstruct`` task: a trained network's estimate of every face, in batches,
    optionally refined by the recipe's ``stages`` (test-time optimisation starting from the estimate).

    The network (encoder, heads, decoders, crop framing) is rebuilt from the checkpoint's recipe; the
    recipe's ``model`` and ``light`` (and ``encoder``, when set) must be the ones it was trained with.
    """

    checkpoint: str = param("outputs/deepnextface/checkpoints/last.safetensors",
                            "The trained network: a checkpoint written by the train task.")
    faces: Literal["all", "largest"] = param("all", "Reconstruct every detected face, or only the largest one per image.")
    image_size: Optional[int] = param(
        None, "Side in pixels of the crops refinement renders and compares; unset: the network's input size.", ge=16)
    batch_size: int = param(16, "Faces per network forward pass (and per refinement batch).", ge=1)
    resume: bool = param(True, "Skip faces whose output folder is complete from an earlier run of the same recipe.")
    suspect_landmark_error: float = param(
        0.15, "A face whose final landmarks lie further than this from the detected ones, in inter-ocular "
        "distances (weighed as for the fit task), is marked 'suspect' instead of 'ok'.", gt=0)
    contour: Literal["sliding", "fixed"] = param("sliding", _CONTOUR_DOC)
    render_max_side: int = param(768, "Longest side of the full-photo renders written with the results.", ge=16)
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
    registry.register(
        "task", "train", params=TrainParams, factory="plugins.tasks.train:TrainTask",
        summary="train a DeepNextFace network self-supervised on synthetic faces and/or photos (stages = epochs)",
        requires=("encoder", "model", "reflectance", "light", "renderer", "stages"),
    )
    registry.register(
        "task", "reconstruct", params=ReconstructParams, factory="plugins.tasks.reconstruct:ReconstructTask",
        summary="reconstruct every face with a trained network, in batches; optional test-time refinement stages",
        requires=("model", "light", "reflectance", "renderer", "face_detector", "landmark_detector", "dataset"),
    )
