"""The top level of a recipe: which component fills each slot, the stages, and run settings.

The core knows slots and kinds, never concrete plugins: every kind with a recipe slot
(:mod:`facerecon.kinds`, including kinds plugins add) becomes an optional top-level key, a task
declares the slots it needs (``requires``) and the validator checks they are filled.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Annotated, Literal, Optional

from ..groups import GROUP_ALIASES, expand_groups
from ..kinds import BUILTIN_KINDS, Kind
from ..params import REQUIRED, Component, GroupName, ParamError, param

__all__ = ["ComponentNode", "Stage", "RecipeSchema", "recipe_schema", "RESERVED_KEYS", "FORMAT_VERSION"]

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

    steps: int = param(REQUIRED, "Number of optimisation steps (or epochs, for training tasks).", ge=0)
    lr: float = param(0.01, "Adam learning rate.", gt=0)
    free: list[GroupName] = param(
        doc="Parameter groups optimised in this stage: the camera's (rotation, translation, focal; pose = "
        "rotation + translation) and those the model and the light declare (e.g. identity, expression, "
        "albedo, textures, light).",
        factory=list,
    )
    losses: dict[str, _node("loss")] = param(
        doc="Named loss terms: {name: {type: LOSS, weight: W, ...}}; override one with "
        "--set stages.STAGE.losses.NAME.weight=W.",
        factory=dict,
    )
    renderer: Optional[_node("renderer")] = param(None, "Renderer for this stage instead of the recipe's.")
    lr_scale: dict[GroupName, float] = param(
        doc="Per-group multipliers of `lr` (e.g. {pose: 0.2} keeps the pose near the landmark fit).",
        factory=dict,
        ge=0,
    )
    delay: dict[GroupName, int] = param(
        doc="Groups from `free` that join only after this many steps (NextFace: shape joins after 100).",
        factory=dict,
        ge=0,
    )

    def __post_init__(self) -> None:
        freed = expand_groups(self.free)
        for name, mapping in (("lr_scale", self.lr_scale), ("delay", self.delay)):
            for group in mapping:
                if not expand_groups([group]) <= freed:
                    raise ParamError(
                        f"{name}.{group}",
                        f"group '{group}' is not freed by this stage (free: [{', '.join(self.free)}])"
                        + (f"; '{group}' stands for {' + '.join(GROUP_ALIASES[group])}" if group in GROUP_ALIASES else ""),
                    )


#: Top-level recipe keys that are not component slots (no kind may take them as its slot).
RESERVED_KEYS = ("facerecon", "extends", "exporters", "stages", "seed", "device", "output", "variants", "versions")


@functools.lru_cache(maxsize=None)
def recipe_schema(kinds: tuple[Kind, ...]) -> type:
    """The dataclass of a whole recipe for these kinds: ``facerecon``, one key per kind slot
    (``task`` required, the others optional), then exporters, stages and run settings."""
    fields: list[tuple] = [("facerecon", int, param(REQUIRED, "Recipe format version; must be 1."))]
    for kind in kinds:
        if kind.slot is None:
            continue
        doc = f"The {kind.name.replace('_', ' ')}: {kind.doc}."
        if kind.slot == "task":
            fields.append((kind.slot, _node(kind.name), param(REQUIRED, doc + " E.g. {type: fit}.")))
        else:
            fields.append((kind.slot, Optional[_node(kind.name)], param(None, doc)))
    fields += [
        ("exporters", dict[str, _node("exporter")], param(doc="Named exporters writing each result.", factory=dict)),
        ("stages", dict[str, Stage], param(doc="Named stages, run in the order written.", factory=dict)),
        ("seed", int, param(0, "Random seed for torch, numpy and Python.")),
        ("device", Literal["auto", "cpu", "cuda"], param("auto", "Compute device; auto picks cuda when available.")),
        ("output", str, param("outputs", "Output folder; `--output` overrides it.")),
        ("variants", dict[str, list[str]], param(
            doc="Named variants for `facerecon compare`: each a list of KEY.PATH=VALUE overrides "
            "(an empty list is the recipe as written). `facerecon run` ignores them.", factory=dict)),
        ("versions", dict[str, str], param(
            doc="Written into recipe.resolved.yaml: versions of the distributions that provided the "
            "components. Informational; ignored when running.", factory=dict)),
    ]
    cls = dataclasses.make_dataclass("RecipeSchema", fields, frozen=True)
    cls.__module__, cls.__doc__ = __name__, "A whole recipe."
    return cls


#: The recipe dataclass with the built-in kinds (the validator builds one per registry).
RecipeSchema = recipe_schema(BUILTIN_KINDS)
