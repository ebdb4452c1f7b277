"""Turning a validated recipe back into plain data: the resolved recipe every run writes."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from ..io import atomic_write
from ..registry import Registry
from .schema import ComponentNode
from .validate import ValidatedRecipe

__all__ = ["to_plain", "resolved_tree", "write_resolved", "component_nodes"]


def to_plain(value: Any) -> Any:
    """Dataclasses and component nodes -> dicts/lists/scalars (defaults filled)."""
    if isinstance(value, ComponentNode):
        return {"type": value.type, **to_plain(value.params)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def component_nodes(recipe: ValidatedRecipe):
    """Every component node of a validated recipe (slots, stages' losses and renderers, exporters,
    nested nodes), depth first."""
    return _nodes(recipe.root)


def _nodes(value: Any):
    if isinstance(value, ComponentNode):
        yield value
        yield from _nodes(value.params)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _nodes(getattr(value, f.name))
    elif isinstance(value, dict):
        for v in value.values():
            yield from _nodes(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _nodes(v)


def resolved_tree(recipe: ValidatedRecipe, registry: Registry) -> dict:
    """The recipe with every default filled and ``versions`` naming facerecon and each distribution
    that provided a component."""
    from .. import __version__

    tree = to_plain(recipe.root)
    versions: dict[str, str] = {"facerecon": __version__}
    for node in _nodes(recipe.root):
        dist = registry.get(node.kind, node.type).distribution
        if dist is not None:
            versions[dist[0]] = dist[1]
    tree["versions"] = dict(sorted(versions.items()))
    return tree


def write_resolved(recipe: ValidatedRecipe, registry: Registry, path: Path) -> None:
    """Write ``recipe.resolved.yaml`` atomically."""
    header = f"# Resolved from {recipe.source}: every default filled. Rerun with: facerecon run {path.name}\n"
    with atomic_write(path) as handle:
        handle.write(header)
        yaml.safe_dump(resolved_tree(recipe, registry), handle, sort_keys=False, default_flow_style=None)
