"""YAML reading that remembers where every key came from (file:line), and recipe merging."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .errors import Issue, RecipeError

__all__ = ["Locations", "load_yaml", "load_recipe_tree", "deep_merge", "apply_sets", "parse_set", "set_value"]

#: Maps a key path tuple to "file:line".
Locations = dict[tuple[str, ...], str]


def _construct(node: yaml.Node, source: str, path: tuple[str, ...], locations: Locations, issues: list[Issue]) -> Any:
    where = f"{source}:{node.start_mark.line + 1}"
    locations.setdefault(path, where)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = path + (key,)
            if key in out:
                issues.append(Issue(f"{source}:{key_node.start_mark.line + 1}", ".".join(child), "duplicate key"))
            locations[child] = f"{source}:{key_node.start_mark.line + 1}"
            out[key] = _construct(value_node, source, child, locations, issues)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, source, path + (str(i),), locations, issues) for i, item in enumerate(node.value)]
    loader = yaml.SafeLoader("")
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path, locations: Locations) -> Any:
    """Parse one YAML file, recording the line of every key path in ``locations``."""
    source = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RecipeError(source, [Issue(source, "", f"cannot read the recipe: {exc.strerror or exc}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError(source, [Issue(where, "", f"invalid YAML: {problem}")]) from None
    if node is None:
        return {}
    issues: list[Issue] = []
    tree = _construct(node, source, (), locations, issues)
    if issues:
        raise RecipeError(source, issues)
    return tree


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` into ``base``: mappings merge key by key, anything else replaces.

    A mapping whose ``type`` changes replaces the base mapping entirely (the new component's
    parameters have nothing to do with the old one's).
    """
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return copy.deepcopy(override)
    if "type" in override and "type" in base and override["type"] != base["type"]:
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
    return merged


def load_recipe_tree(path: str | Path, locations: Locations, _chain: tuple[Path, ...] = ()) -> dict:
    """Load a recipe file, resolving ``extends:`` (a path relative to the file, or a list of them)."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(str(p) for p in _chain + (resolved,))
        raise RecipeError(str(path), [Issue(str(path), "extends", f"circular extends: {cycle}")])
    own: Locations = {}
    tree = load_yaml(path, own)
    if not isinstance(tree, dict):
        raise RecipeError(str(path), [Issue(f"{path}:1", "", "a recipe must be a mapping of keys to values")])
    parents = tree.pop("extends", None)
    merged: dict = {}
    if parents is not None:
        for parent in [parents] if isinstance(parents, str) else list(parents):
            parent_path = (path.parent / str(parent))
            if not parent_path.exists():
                raise RecipeError(str(path), [Issue(own.get(("extends",), str(path)), "extends",
                                                    f"extended recipe {parent_path} does not exist")])
            merged = deep_merge(merged, load_recipe_tree(parent_path, locations, _chain + (resolved,)))
    locations.update({k: v for k, v in own.items() if k != ("extends",)})
    return deep_merge(merged, tree)


def parse_set(assignment: str) -> tuple[tuple[str, ...], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML-parsed value (``0.1`` -> float, ``[a, b]`` -> list)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise RecipeError("--set", [Issue("--set", assignment, "expected KEY.PATH=VALUE, e.g. --set losses.photo.weight=10")])
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return tuple(part for part in key.strip().split(".")), value


def set_value(tree: dict, path: tuple[str, ...], value: Any, locations: Locations, label: str) -> None:
    """Set ``tree[path] = value`` in place, creating mappings on the way; a ``type`` change
    replaces the node (its old parameters belong to another component)."""
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if path[-1] == "type" and node.get("type") not in (None, value):
        node.clear()
        parent = path[:-1]
        for key in [k for k in locations if len(k) > len(parent) and k[: len(parent)] == parent]:
            del locations[key]
    node[path[-1]] = value
    locations[path] = label


def apply_sets(tree: dict, assignments: list[str] | tuple[str, ...], locations: Locations) -> dict:
    """Apply ``--set KEY.PATH=VALUE`` overrides to a copy of a recipe tree."""
    tree = copy.deepcopy(tree)
    for assignment in assignments:
        path, value = parse_set(assignment)
        set_value(tree, path, value, locations, f"--set {assignment}")
    return tree
