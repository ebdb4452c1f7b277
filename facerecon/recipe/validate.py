"""Strict, type-directed validation of recipe trees against parameter dataclasses.

Nothing heavy is imported: only the registry's metadata and the params dataclasses. Every
problem is collected (unknown keys and component names with a did-you-mean, wrong types,
missing values) and raised at once as a :class:`RecipeError`.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

from ..params import Component, field_doc, is_required
from ..registry import Registry, did_you_mean
from .errors import Issue, RecipeError
from .schema import FORMAT_VERSION, SLOTS, ComponentNode, RecipeSchema
from .yamlio import Locations

__all__ = ["Validator", "ValidatedRecipe", "validate_recipe", "describe_type"]


@dataclass
class ValidatedRecipe:
    """A recipe checked against the registry.

    Attributes:
        root: the :class:`RecipeSchema` instance (component nodes as :class:`ComponentNode`).
        source: the recipe file (or ``<python>``).
        tree: the merged raw tree the recipe was validated from.
    """

    root: RecipeSchema
    source: str
    tree: dict


def describe_type(tp: Any) -> str:
    """A short human-readable name of a parameter type (``list[str]``, ``one of a|b``)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        marker = next((a for a in args[1:] if isinstance(a, Component)), None)
        return f"{marker.kind} component" if marker else describe_type(args[0])
    if origin is Literal:
        return "one of " + "|".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        inner = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(inner) + (" or null" if type(None) in args else "")
    if origin in (list, tuple, dict):
        return f"{origin.__name__}[{', '.join(describe_type(a) for a in args if a is not Ellipsis)}]"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


class Validator:
    """Validates values against types, collecting :class:`Issue` objects.

    Args:
        registry: the component registry.
        locations: key path -> ``file:line``.
        source: name used where a path has no recorded location.
    """

    def __init__(self, registry: Registry, locations: Locations, source: str) -> None:
        self.registry = registry
        self.locations = locations
        self.source = source
        self.issues: list[Issue] = []

    # -- reporting -------------------------------------------------------------------------
    def where(self, path: tuple[str, ...]) -> str:
        """The location of ``path`` or of its nearest recorded ancestor."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.locations:
                return self.locations[path[:cut]]
        return self.source

    def error(self, path: tuple[str, ...], message: str) -> None:
        """Record one issue."""
        self.issues.append(Issue(self.where(path), ".".join(path), message))

    # -- validation ------------------------------------------------------------------------
    def dataclass_value(self, cls: type, value: Any, path: tuple[str, ...], owner: str) -> Any:
        """Build ``cls`` from a mapping, checking every key; returns None after errors."""
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping of parameters for {owner}, got {_show(value)}")
            return None
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls, include_extras=True)
        kwargs: dict[str, Any] = {}
        ok = True
        for key, item in value.items():
            if key not in fields:
                hint = did_you_mean(key, fields)
                self.error(
                    path + (key,),
                    f"unknown parameter of {owner}"
                    + (f" (did you mean '{hint}'?)" if hint else "")
                    + f". Accepted: {', '.join(fields) or 'none'}",
                )
                ok = False
                continue
            converted, good = self.value(hints[key], item, path + (key,))
            ok &= good
            kwargs[key] = converted
        for name, f in fields.items():
            if name not in value and is_required(f):
                doc = field_doc(f)
                self.error(path + (name,), f"missing required parameter of {owner} ({describe_type(hints[name])}"
                           + (f": {doc}" if doc else "") + ")")
                ok = False
        if not ok:
            return None
        return cls(**kwargs)

    def component(self, kind: str, value: Any, path: tuple[str, ...]) -> ComponentNode | None:
        """Validate a ``{type: NAME, ...}`` node of ``kind``."""
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, dict) or "type" not in value:
            names = ", ".join(self.registry.names(kind)) or "none installed"
            self.error(path, f"expected a {kind} component as {{type: NAME, ...}}, got {_show(value)}. Installed: {names}")
            return None
        name = value["type"]
        if not isinstance(name, str) or not self.registry.has(kind, name):
            names = self.registry.names(kind)
            hint = did_you_mean(str(name), names)
            self.error(
                path + ("type",),
                f"unknown {kind} '{name}'" + (f" (did you mean '{hint}'?)" if hint else "")
                + f". Installed: {', '.join(names) or 'none'}",
            )
            return None
        spec = self.registry.get(kind, name)
        params = {k: v for k, v in value.items() if k != "type"}
        instance = self.dataclass_value(spec.params, params, path, f"{kind} '{name}'")
        if instance is None:
            return None
        return ComponentNode(kind=kind, type=name, params=instance, path=".".join(path))

    def value(self, tp: Any, value: Any, path: tuple[str, ...]) -> tuple[Any, bool]:
        """Check/convert ``value`` against type ``tp``; returns (converted, ok)."""
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Annotated:
            marker = next((a for a in args[1:] if isinstance(a, Component)), None)
            if marker is not None:
                node = self.component(marker.kind, value, path)
                return node, node is not None
            return self.value(args[0], value, path)
        if origin in (Union, types.UnionType):
            if value is None and type(None) in args:
                return None, True
            options = [a for a in args if a is not type(None)]
            if len(options) == 1:
                return self.value(options[0], value, path)
            for option in options:
                trial = Validator(self.registry, self.locations, self.source)
                converted, ok = trial.value(option, value, path)
                if ok:
                    return converted, True
            self.error(path, f"expected {describe_type(tp)}, got {_show(value)}")
            return None, False
        if origin is Literal:
            if value in args:
                return value, True
            hint = did_you_mean(str(value), [str(a) for a in args])
            self.error(path, f"expected one of {', '.join(map(str, args))}, got {_show(value)}"
                       + (f" (did you mean '{hint}'?)" if hint else ""))
            return None, False
        if origin in (list, tuple):
            if not isinstance(value, (list, tuple)):
                self.error(path, f"expected {describe_type(tp)}, got {_show(value)}")
                return None, False
            if origin is tuple and args and args[-1] is not Ellipsis:
                if len(value) != len(args):
                    self.error(path, f"expected {len(args)} values ({describe_type(tp)}), got {len(value)}")
                    return None, False
                item_types = args
            else:
                item_types = [args[0] if args else Any] * len(value)
            results = [self.value(t, v, path + (str(i),)) for i, (t, v) in enumerate(zip(item_types, value))]
            ok = all(good for _, good in results)
            items = [converted for converted, _ in results]
            return (tuple(items) if origin is tuple else items), ok
        if origin is dict:
            if not isinstance(value, dict):
                self.error(path, f"expected a mapping ({describe_type(tp)}), got {_show(value)}")
                return None, False
            item_type = args[1] if args else Any
            out, ok = {}, True
            for key, item in value.items():
                converted, good = self.value(item_type, item, path + (str(key),))
                out[str(key)] = converted
                ok &= good
            return out, ok
        if dataclasses.is_dataclass(tp):
            instance = self.dataclass_value(tp, value, path, path[-1] if path else "recipe")
            return instance, instance is not None
        return self.scalar(tp, value, path)

    def scalar(self, tp: Any, value: Any, path: tuple[str, ...]) -> tuple[Any, bool]:
        """int, float, bool, str (ints are accepted as floats; ``--set`` strings are coerced)."""
        if tp is Any:
            return value, True
        from_set = self.where(path).startswith("--set")
        if tp is bool:
            if isinstance(value, bool):
                return value, True
        elif tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value, True
            if isinstance(value, float) and value.is_integer() and from_set:
                return int(value), True
        elif tp is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value), True
        elif tp is str:
            if isinstance(value, str):
                return value, True
            if from_set and isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value), True
        else:
            if isinstance(value, tp):
                return value, True
        self.error(path, f"expected {describe_type(tp)}, got {_show(value)}")
        return None, False


def _show(value: Any) -> str:
    text = repr(value)
    kind = "null" if value is None else type(value).__name__
    return f"{kind} {text if len(text) < 40 else text[:37] + '...'}"


def validate_recipe(tree: dict, registry: Registry, locations: Locations, source: str) -> ValidatedRecipe:
    """Validate a merged recipe tree; raises :class:`RecipeError` listing every issue."""
    validator = Validator(registry, locations, source)
    version = tree.get("facerecon")
    if "facerecon" in tree and version != FORMAT_VERSION:
        validator.error(("facerecon",), f"unsupported recipe format version {version!r}; this facerecon reads {FORMAT_VERSION}")
        tree = {**tree, "facerecon": FORMAT_VERSION}
    root = validator.dataclass_value(RecipeSchema, tree, (), "the recipe")
    if root is not None:
        spec = registry.get("task", root.task.type)
        for slot in spec.requires:
            if slot in SLOTS and getattr(root, slot) is None:
                kind = SLOTS[slot]
                names = ", ".join(registry.names(kind)) or "none installed"
                validator.error((slot,), f"task '{root.task.type}' needs a {kind} here ({slot}: {{type: NAME}}). Installed: {names}")
            elif slot == "stages" and not root.stages:
                validator.error(("stages",), f"task '{root.task.type}' needs at least one stage")
    if validator.issues:
        raise RecipeError(source, validator.issues)
    return ValidatedRecipe(root=root, source=source, tree=tree)
