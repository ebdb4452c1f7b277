"""The top level of a recipe: which component fills each slot, the stages, and run settings.

The core knows slots and kinds, never concrete plugins: a task declares the slots it needs
(``requires``) and the validator checks they are filled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Optional

from ..params import REQUIRED, Component, param

__all__ = ["ComponentNode", "Stage", "RecipeSchema", "SLOTS", "FORMAT_VERSION"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ComponentNode:
    """A validated ``{type: NAME, ...params}`` node.

    Attributes:
        kind: component kind.
        type: registered name.
        params: instance of the component's params dataclass (defaults filled).
        path: dotted key path in the recipe (``renderer``, ``stages.fit.losses.photo``).
    """

    kind: str
    type: str
    params: object
    path: str = ""


def _node(kind: str):
    return Annotated[ComponentNode, Component(kind)]


@dataclass(frozen=True)
class Stage:
    """One optimisation (or training) stage, as NextFace and DeepNextFace schedule them."""

    steps: int = param(REQUIRED, "Number of optimisation steps (or epochs, for training tasks).")
    lr: float = param(0.01, "Adam learning rate.")
    free: list[str] = param(
        doc="Parameter groups optimised in this stage (e.g. pose, focal, identity, expression, light, "
        "albedo, textures); the task lists the groups it knows.",
        factory=list,
    )
    losses: dict[str, _node("loss")] = param(
        doc="Named loss terms: {name: {type: LOSS, weight: W, ...}}; override one with "
        "--set stages.STAGE.losses.NAME.weight=W.",
        factory=dict,
    )
    renderer: Optional[_node("renderer")] = param(None, "Renderer for this stage instead of the recipe's.")
    lr_scale: dict[str, float] = param(
        doc="Per-group multipliers of `lr` (e.g. {pose: 0.2} keeps the pose near the landmark fit).",
        factory=dict,
    )
    delay: dict[str, int] = param(
        doc="Groups from `free` that join only after this many steps (NextFace: shape joins after 100).",
        factory=dict,
    )


@dataclass(frozen=True)
class RecipeSchema:
    """A whole recipe."""

    facerecon: int = param(REQUIRED, "Recipe format version; must be 1.")
    task: _node("task") = param(REQUIRED, "What `facerecon run` executes (e.g. {type: fit}).")
    model: Optional[_node("morphable_model")] = param(None, "The morphable face model.")
    reflectance: Optional[_node("reflectance")] = param(None, "The skin BRDF.")
    light: Optional[_node("lighting")] = param(None, "The illumination model.")
    renderer: Optional[_node("renderer")] = param(None, "The renderer used unless a stage names its own.")
    encoder: Optional[_node("encoder")] = param(None, "Image encoder, for network tasks.")
    face_detector: Optional[_node("face_detector")] = param(None, "Finds faces in input photos.")
    landmark_detector: Optional[_node("landmark_detector")] = param(None, "Finds 68 landmarks per face.")
    dataset: Optional[_node("dataset")] = param(None, "Input images; `--input` sets dataset.input.")
    exporters: dict[str, _node("exporter")] = param(doc="Named exporters writing each result.", factory=dict)
    stages: dict[str, Stage] = param(doc="Named stages, run in the order written.", factory=dict)
    seed: int = param(0, "Random seed for torch, numpy and Python.")
    device: Literal["auto", "cpu", "cuda"] = param("auto", "Compute device; auto picks cuda when available.")
    output: str = param("outputs", "Output folder; `--output` overrides it.")
    variants: dict[str, list[str]] = param(
        doc="Named variants for `facerecon compare`: each a list of KEY.PATH=VALUE overrides "
        "(an empty list is the recipe as written). `facerecon run` ignores them.",
        factory=dict,
    )
    versions: dict[str, str] = param(
        doc="Written into recipe.resolved.yaml: versions of the distributions that provided the "
        "components. Informational; ignored when running.",
        factory=dict,
    )


#: Recipe slot -> component kind, for the single-component slots.
SLOTS: dict[str, str] = {
    "task": "task",
    "model": "morphable_model",
    "reflectance": "reflectance",
    "light": "lighting",
    "renderer": "renderer",
    "encoder": "encoder",
    "face_detector": "face_detector",
    "landmark_detector": "landmark_detector",
    "dataset": "dataset",
}
