"""YAML reading that remembers where every key came from (file:line), and recipe merging.

Recipes are read as plain data only: no tag that names Python (``!!python/...``) or any other
application type is ever constructed. Floats follow YAML 1.2 (``1e-3`` is a float, as most
people write it). Every malformed file becomes a :class:`RecipeError` with ``file:line``:
undecodable bytes, invalid YAML, unknown or malformed tags, nesting deeper than
:data:`MAX_DEPTH`, recursive aliases, and aliases that expand to more than :data:`MAX_VALUES`
values (an "alias bomb").
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Issue, RecipeError

__all__ = [
    "Locations", "DeletedAt", "MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "load_yaml", "parse_yaml",
    "load_recipe_tree", "deep_merge", "apply_sets", "parse_set", "set_value",
]

#: Maps a key path tuple to "file:line".
Locations = dict[tuple[str, ...], str]

#: Largest recipe file read, in bytes.
MAX_BYTES = 1 << 20
#: Deepest nesting of mappings and lists in a recipe.
MAX_DEPTH = 64
#: Most values (scalars, mappings and lists) a recipe may hold once its aliases are expanded.
MAX_VALUES = 10_000


class DeletedAt(str):
    """The location of a ``key: null`` (or ``--set KEY=null``) that removes an inherited key.

    The validator drops such a key (the parameter takes its default, a stage or loss
    disappears) unless the parameter accepts null, which then is its value.
    """


_CORE = "tag:yaml.org,2002:"
_MERGE = _CORE + "merge"
_SCALAR_TAGS = {_CORE + t for t in ("null", "bool", "int", "float", "str", "timestamp", "binary")}
_YAML12_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+
                               |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)$""", re.X)


class _TooDeep(Exception):
    def __init__(self, mark) -> None:
        self.mark = mark


class _Resolver(yaml.resolver.Resolver):
    """PyYAML's implicit types plus YAML 1.2 floats (``1e-3``, ``2E5``)."""


_Resolver.add_implicit_resolver(_CORE + "float", _YAML12_FLOAT, list("-+.0123456789"))


class _DepthLimit:
    """Composer hook refusing nodes nested deeper than :data:`MAX_DEPTH`."""

    _depth = 0

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML hook
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


if yaml.__with_libyaml__:
    class _Loader(_DepthLimit, yaml._yaml.CParser, yaml.composer.Composer, _Resolver):
        """LibYAML's scanner and parser (linear time, where PyYAML's scanner is quadratic in the
        nesting of flow collections) with PyYAML's composer, so that nesting is bounded."""

        def __init__(self, stream: str) -> None:
            yaml._yaml.CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            _Resolver.__init__(self)

        check_node = yaml.composer.Composer.check_node
        get_node = yaml.composer.Composer.get_node
        get_single_node = yaml.composer.Composer.get_single_node
else:  # pragma: no cover - PyYAML built without LibYAML
    class _Loader(_DepthLimit, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                  yaml.composer.Composer, _Resolver):
        """PyYAML's pure-Python reader, scanner and parser with a bounded nesting depth."""

        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Resolver.__init__(self)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, max(position, 0)) + 1


class _TooMany(Exception):
    def __init__(self, node: Node) -> None:
        self.node = node


class _TreeBuilder:
    """Turns a composed YAML node graph into plain dicts, lists and scalars, recording the line
    of every key path, refusing non-data tags and recursive or exploding aliases."""

    def __init__(self, source: str, locations: Locations) -> None:
        self.source = source
        self.locations = locations
        self.issues: list[Issue] = []
        self.constructor = yaml.constructor.SafeConstructor()
        self.count = 0
        self.active: set[int] = set()

    def where(self, node: Node) -> str:
        return f"{self.source}:{node.start_mark.line + 1}"

    def issue(self, node: Node, path: tuple[str, ...], message: str) -> None:
        self.issues.append(Issue(self.where(node), ".".join(path), message))

    def build(self, node: Node, path: tuple[str, ...], locations: Locations | None = None) -> Any:
        locations = self.locations if locations is None else locations
        self.count += 1
        if self.count > MAX_VALUES:
            raise _TooMany(node)
        locations.setdefault(path, self.where(node))
        if id(node) in self.active:
            self.issue(node, path, "recursive alias: this value contains itself")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if node.tag not in (_CORE + "map", _CORE + "seq"):
            self.issue(node, path, f"the tag {_short_tag(node.tag)} is not allowed in a recipe (plain YAML data only)")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, path + (str(i),), locations) for i, item in enumerate(node.value)]
            return self.mapping(node, path, locations)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: ScalarNode, path: tuple[str, ...]) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self.issue(node, path, f"the tag {_short_tag(node.tag)} is not allowed in a recipe (plain YAML data only)")
            return None
        try:
            return self.constructor.construct_object(node, deep=True)
        except Exception as exc:  # ValueError, binascii.Error, ConstructorError...: a malformed value
            reason = getattr(exc, "problem", None) or str(exc) or type(exc).__name__
            self.issue(node, path, f"cannot read {_show_text(node.value)} as {_short_tag(node.tag)}: {reason}")
            return None

    def mapping(self, node: MappingNode, path: tuple[str, ...], locations: Locations) -> dict:
        out: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges += value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _SCALAR_TAGS - {_CORE + "binary"}:
                kind = "a plain name" if isinstance(key_node, ScalarNode) else "a mapping or list"
                self.issue(key_node, path, f"keys must be plain names, got {kind} tagged {_short_tag(key_node.tag)}")
                continue
            key = str(key_node.value)
            child = path + (key,)
            if key in out:
                self.issue(key_node, child, "duplicate key")
            locations[child] = self.where(key_node)
            out[key] = self.build(value_node, child, locations)
        merged: dict[str, Any] = {}
        for source in merges:  # YAML merge keys (<<: *base): explicit keys win, earlier merges win
            if not isinstance(source, MappingNode):
                self.issue(source, path, "<< merges mappings only (<<: *name or <<: [*a, *b])")
                continue
            scratch: Locations = {}
            value = self.build(source, path, scratch)
            if isinstance(value, dict):
                for key, item in value.items():
                    if key not in out and key not in merged:
                        merged[key] = item
                        for sub, line in scratch.items():
                            if sub[: len(path) + 1] == path + (key,):
                                locations.setdefault(sub, line)
        return {**merged, **out} if merged else out


def _show_text(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_yaml(text: str, source: str, locations: Locations) -> Any:
    """Parse YAML ``text`` into plain data, recording ``file:line`` of every key path.

    Raises:
        RecipeError: invalid YAML, a refused tag or value, too deep, recursive or too many values.
    """
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses control characters already here
        node = loader.get_single_node()
    except _TooDeep as exc:
        raise RecipeError(source, [Issue(f"{source}:{exc.mark.line + 1}", "",
                                         f"nested more than {MAX_DEPTH} levels deep")]) from None
    except yaml.reader.ReaderError as exc:
        raise RecipeError(source, [Issue(f"{source}:{_line(text, exc.position)}", "", f"invalid YAML: {exc.reason}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError(source, [Issue(where, "", f"invalid YAML: {problem}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return None
    builder = _TreeBuilder(source, locations)
    try:
        tree = builder.build(node, ())
    except _TooMany as exc:
        builder.issues.append(Issue(
            builder.where(exc.node), "",
            f"the recipe holds more than {MAX_VALUES} values once its aliases are expanded; "
            "an alias (*name) repeated inside other aliases multiplies them"))
        raise RecipeError(source, builder.issues) from None
    if builder.issues:
        raise RecipeError(source, builder.issues)
    return tree


def _read_text(path: Path) -> str:
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise RecipeError(source, [Issue(source, "", f"the recipe is {size} bytes; recipes are at most {MAX_BYTES} bytes")])
        data = path.read_bytes()
    except OSError as exc:
        raise RecipeError(source, [Issue(source, "", f"cannot read the recipe: {exc.strerror or exc}")]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RecipeError(source, [Issue(
            f"{source}:{line}", "", f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the recipe as UTF-8")]) from None


def load_yaml(path: Path, locations: Locations) -> Any:
    """Read and parse one YAML file, recording the line of every key path in ``locations``."""
    tree = parse_yaml(_read_text(path), str(path), locations)
    return {} if tree is None else tree


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` into ``base``: mappings merge key by key, anything else replaces.

    A mapping whose ``type`` changes replaces the base mapping entirely (the new component's
    parameters have nothing to do with the old one's). A component written as its bare name
    (``renderer: rasterizer``) counts as ``{type: rasterizer}`` on either side. A null replaces
    too: the validator then removes the key (see :class:`DeletedAt`).
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


_MISSING = object()


def _get(tree: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path``, or ``_MISSING``."""
    for part in path:
        if isinstance(tree, dict) and part in tree:
            tree = tree[part]
        elif isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
            tree = tree[int(part)]
        else:
            return _MISSING
    return tree


def _exists(tree: Any, path: tuple[str, ...]) -> bool:
    return _get(tree, path) is not _MISSING


def load_recipe_tree(path: str | Path, locations: Locations, _chain: tuple[Path, ...] = ()) -> dict:
    """Load a recipe file, resolving ``extends:`` (a path relative to the file, or a list of them).

    ``key: null`` in a file that extends others removes the inherited key (marked
    :class:`DeletedAt` in ``locations``).
    """
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
    deleted = [key for key in own if key and _get(tree, key) is None and _exists(merged, key)]
    merged = deep_merge(merged, tree)
    # Drop the lines of parent keys this file replaced (a changed `type` replaces the whole node).
    for key in [k for k in locations if not _exists(merged, k)]:
        del locations[key]
    locations.update({k: v for k, v in own.items() if k != ("extends",)})
    for key in deleted:
        locations[key] = DeletedAt(locations[key])
    return merged


def parse_set(assignment: str) -> tuple[tuple[str, ...], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML-parsed value (``0.1`` -> float, ``[a, b]`` -> list).

    A value that is not valid YAML data stays the raw text.
    """
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise RecipeError("--set", [Issue(f"--set {assignment}", "", "expected KEY.PATH=VALUE, e.g. --set losses.photo.weight=10")])
    try:
        value = parse_yaml(raw, "--set", {}) if raw.strip() else ""
    except RecipeError:
        value = raw
    return tuple(part for part in key.strip().split(".")), value


def set_value(tree: dict, path: tuple[str, ...], value: Any, locations: Locations, label: str) -> None:
    """Set ``tree[path] = value`` in place, creating mappings on the way; a ``type`` change
    replaces the node (its old parameters belong to another component). A null removes the key,
    as ``key: null`` does under ``extends`` (see :class:`DeletedAt`)."""
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
    for key in [k for k in locations if len(k) > len(path) and k[: len(path)] == path]:
        del locations[key]  # the lines of what the new value replaced
    locations[path] = DeletedAt(label) if value is None else label


def apply_sets(tree: dict, assignments: list[str] | tuple[str, ...], locations: Locations) -> dict:
    """Apply ``--set KEY.PATH=VALUE`` overrides to a copy of a recipe tree."""
    tree = copy.deepcopy(tree)
    for assignment in assignments:
        path, value = parse_set(assignment)
        set_value(tree, path, value, locations, f"--set {assignment}")
    return tree
