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
    parameters have nothing to do with the old one's). A component written as its bare name
    (``renderer: rasterizer``) counts as ``{type: rasterizer}`` on either side.
    """
    if isinstance(base, str) and isinstance(override, dict) and "type" not in override:
        base = {"type": base}
    override = _as_node(base, override)
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return copy.deepcopy(override)
    if "type" in override and "type" in base and override["type"] != base["type"]:
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
    return merged


def _as_node(base: Any, value: Any) -> Any:
    """``value`` as ``{type: value}`` when it is a bare name replacing a component node."""
    if isinstance(value, str) and isinstance(base, dict) and "type" in base:
        return {"type": value}
    return value


def _exists(tree: Any, path: tuple[str, ...]) -> bool:
    for part in path:
        if isinstance(tree, dict) and part in tree:
            tree = tree[part]
        elif isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
            tree = tree[int(part)]
        else:
            return False
    return True


def load_recipe_tree(path: str | Path, locations: Locations, _chain: tuple[Path, ...] = ()) -> dict:
    """Load a recipe file, resolving ``extends:`` (a path relative to the file, or a list of them)."""
    path = Path(path)
    chain = _chain + (path.resolve(),)
    own: Locations = {}
    tree = load_yaml(path, own)
    if not isinstance(tree, dict):
        raise RecipeError(str(path), [Issue(f"{path}:1", "", "a recipe must be a mapping of keys to values")])
    parents = tree.pop("extends", None)
    if parents is None:
        locations.update(own)
        return tree
    where = own.get(("extends",), str(path))
    if not (isinstance(parents, str) or (isinstance(parents, list) and all(isinstance(p, str) for p in parents))):
        raise RecipeError(str(path), [Issue(where, "extends", "expected a recipe path or a list of them")])
    merged: dict = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        parent_path = path.parent / parent
        if parent_path.resolve() in chain:
            cycle = " -> ".join(str(p) for p in chain + (parent_path.resolve(),))
            raise RecipeError(str(path), [Issue(where, "extends", f"circular extends: {cycle}")])
        if not parent_path.is_file():
            raise RecipeError(str(path), [Issue(where, "extends", f"extended recipe {parent_path} does not exist")])
        try:
            parent_tree = load_recipe_tree(parent_path, locations, chain)
        except RecipeError as exc:  # report it under the recipe the user named; issues keep their file:line
            raise RecipeError(str(path), exc.issues) from None
        merged = deep_merge(merged, parent_tree)
    merged = deep_merge(merged, tree)
    # Drop the lines of parent keys this file replaced (a changed `type` replaces the whole node).
    for key in [k for k in locations if not _exists(merged, k)]:
        del locations[key]
    locations.update({k: v for k, v in own.items() if k != ("extends",)})
    return merged


def parse_set(assignment: str) -> tuple[tuple[str, ...], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML-parsed value (``0.1`` -> float, ``[a, b]`` -> list)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise RecipeError("--set", [Issue(f"--set {assignment}", "", "expected KEY.PATH=VALUE, e.g. --set losses.photo.weight=10")])
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
        if isinstance(child, str):  # a bare component name: `renderer: rasterizer`
            child = {"type": child}
            node[part] = child
        elif not isinstance(child, dict):
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
