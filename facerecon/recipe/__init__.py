"""Recipes: load YAML (with ``extends:`` and ``--set``), validate strictly, build, resolve."""
from __future__ import annotations

from pathlib import Path

from ..registry import Registry
from .build import Builder
from .errors import Issue, RecipeError
from .resolve import component_nodes, resolved_tree, to_plain, write_resolved
from .schema import ComponentNode, RecipeSchema, Stage, recipe_schema
from .validate import ValidatedRecipe, validate_recipe
from .yamlio import apply_sets, deep_merge, load_recipe_tree, set_value

__all__ = [
    "load_recipe", "Builder", "component_nodes", "Issue", "RecipeError", "resolved_tree", "to_plain", "write_resolved",
    "ComponentNode", "RecipeSchema", "Stage", "recipe_schema", "ValidatedRecipe", "validate_recipe",
    "apply_sets", "deep_merge", "set_value",
]


def load_recipe(
    path: str | Path,
    registry: Registry,
    sets: list[str] | tuple[str, ...] = (),
    overrides: dict[str, object] | None = None,
) -> ValidatedRecipe:
    """Load, merge (``extends:``), override (``--set``) and validate a recipe file.

    Args:
        path: the recipe file.
        registry: registry to validate against.
        sets: ``KEY.PATH=VALUE`` strings (values parsed as YAML).
        overrides: ``{"key.path": value}`` set verbatim after ``sets`` (CLI options such as
            ``--output``); a None value is skipped.

    Raises:
        RecipeError: listing every problem with file:line, key path and a hint.
    """
    locations: dict = {}
    tree = load_recipe_tree(path, locations)
    try:
        tree = apply_sets(tree, list(sets), locations)
    except RecipeError as exc:
        raise RecipeError(str(path), exc.issues) from None
    for key, value in (overrides or {}).items():
        if value is not None:
            set_value(tree, tuple(key.split(".")), value, locations, f"--set {key}={value}")
    return validate_recipe(tree, registry, locations, str(path))
