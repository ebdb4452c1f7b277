"""Strict, type-directed validation of recipe trees against parameter dataclasses.

Nothing heavy is imported: only the registry's metadata and the params dataclasses. Every
problem is collected and raised at once as a :class:`RecipeError`: unknown keys and component
names with a did-you-mean, wrong types, missing values, numbers outside their limits (and NaN or
infinite numbers), rules of a params dataclass's ``__post_init__`` (:class:`ParamError`),
unknown parameter-group names, and components used with a component they do not work with.
"""
from __future__ import annotations

import dataclasses
import reprlib
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

from ..groups import CAMERA_GROUPS, GROUP_ALIASES
from ..params import Component, Limits, ParamError, ParameterGroupName, field_doc, field_limits, is_required
from ..registry import Registry, did_you_mean
from .errors import Issue, RecipeError
from .schema import FORMAT_VERSION, ComponentNode, recipe_schema
from .yamlio import DeletedAt, Locations

__all__ = ["Validator", "ValidatedRecipe", "validate_recipe", "describe_type", "recipe_groups"]

_NO_LIMITS = Limits(finite=False)


@dataclass
class ValidatedRecipe:
    """A recipe checked against the registry.

    Attributes:
        root: the recipe dataclass instance (component nodes as :class:`ComponentNode`).
        source: the recipe file (or ``<python>``).
        tree: the merged raw tree the recipe was validated from.
    """

    root: Any
    source: str
    tree: dict


def _marker(tp: Any, cls: type) -> Any:
    """The ``cls`` instance among the metadata of an ``Annotated`` type, or None."""
    if typing.get_origin(tp) is not typing.Annotated:
        return None
    return next((a for a in typing.get_args(tp)[1:] if isinstance(a, cls)), None)


def describe_type(tp: Any) -> str:
    """A short human-readable name of a parameter type (``list[str]``, ``one of a|b``)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        component = _marker(tp, Component)
        if component is not None:
            return f"{component.kind} component"
        return "parameter group" if _marker(tp, ParameterGroupName) is not None else describe_type(args[0])
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


def _accepts_none(tp: Any) -> bool:
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp is Any or (typing.get_origin(tp) in (Union, types.UnionType) and type(None) in typing.get_args(tp))


class Validator:
    """Validates values against types, collecting :class:`Issue` objects.

    Args:
        registry: the component registry.
        locations: key path -> ``file:line``.
        source: name used where a path has no recorded location.

    Attributes:
        issues: every problem found so far.
        nodes: every component node validated, by key path.
        group_refs: ``(key path, name)`` of every parameter-group name met (checked by
            :func:`validate_recipe` once the whole recipe is known).
    """

    def __init__(self, registry: Registry, locations: Locations, source: str) -> None:
        self.registry = registry
        self.locations = locations
        self.source = source
        self.issues: list[Issue] = []
        self.nodes: dict[tuple[str, ...], ComponentNode] = {}
        self.group_refs: list[tuple[tuple[str, ...], str]] = []

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

    def _removed(self, path: tuple[str, ...], value: Any, tp: Any) -> bool:
        """Whether ``value`` is a null removing an inherited key (and the type does not take null)."""
        return value is None and isinstance(self.locations.get(path), DeletedAt) and not _accepts_none(tp)

    # -- validation ------------------------------------------------------------------------
    def dataclass_value(self, cls: type, value: Any, path: tuple[str, ...], owner: str) -> Any:
        """Build ``cls`` from a mapping, checking every key, limit and ``__post_init__`` rule;
        returns None after errors."""
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
            if self._removed(path + (key,), item, hints[key]):
                continue
            converted, good = self.value(hints[key], item, path + (key,), field_limits(fields[key]))
            ok &= good
            kwargs[key] = converted
        for name, f in fields.items():
            if name not in kwargs and is_required(f) and (name not in value or self._removed(path + (name,), value[name], hints[name])):
                doc = field_doc(f)
                self.error(path + (name,), f"missing required parameter of {owner} ({describe_type(hints[name])}"
                           + (f": {doc}" if doc else "") + ")")
                ok = False
        if not ok:
            return None
        try:
            return cls(**kwargs)
        except ParamError as exc:
            self.error(path + tuple(exc.field.split(".")), exc.message)
            return None

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
                f"unknown {kind} {_brief(name)}" + (f" (did you mean '{hint}'?)" if hint else "")
                + f". Installed: {', '.join(names) or 'none'}",
            )
            return None
        spec = self.registry.get(kind, name)
        params = {k: v for k, v in value.items() if k != "type"}
        instance = self.dataclass_value(spec.params, params, path, f"{kind} '{name}'")
        if instance is None:
            return None
        node = ComponentNode(kind=kind, type=name, params=instance, path=".".join(path))
        self.nodes[path] = node
        return node

    def value(self, tp: Any, value: Any, path: tuple[str, ...], limits: Limits = Limits()) -> tuple[Any, bool]:
        """Check/convert ``value`` against type ``tp`` (numbers against ``limits``); returns (converted, ok)."""
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Annotated:
            component = _marker(tp, Component)
            if component is not None:
                node = self.component(component.kind, value, path)
                return node, node is not None
            converted, ok = self.value(args[0], value, path, limits)
            if ok and _marker(tp, ParameterGroupName) is not None:
                self.group_refs.append((path, converted))
            return converted, ok
        if origin in (Union, types.UnionType):
            if value is None and type(None) in args:
                return None, True
            options = [a for a in args if a is not type(None)]
            if len(options) == 1:
                return self.value(options[0], value, path, limits)
            for option in options:
                trial = Validator(self.registry, self.locations, self.source)
                converted, ok = trial.value(option, value, path, limits)
                if ok:
                    self.nodes.update(trial.nodes)
                    self.group_refs += trial.group_refs
                    return converted, True
            self.error(path, f"expected {describe_type(tp)}, got {_show(value)}")
            return None, False
        if origin is Literal:
            if any(value == a and type(value) is type(a) for a in args):
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
            results = [self.value(t, v, path + (str(i),), limits) for i, (t, v) in enumerate(zip(item_types, value))]
            ok = all(good for _, good in results)
            items = [converted for converted, _ in results]
            return (tuple(items) if origin is tuple else items), ok
        if origin is dict:
            if not isinstance(value, dict):
                self.error(path, f"expected a mapping ({describe_type(tp)}), got {_show(value)}")
                return None, False
            key_type, item_type = args if args else (str, Any)
            out, ok = {}, True
            for key, item in value.items():
                child = path + (str(key),)
                if self._removed(child, item, item_type):
                    continue
                _, good_key = self.value(key_type, str(key), child, _NO_LIMITS)
                converted, good = self.value(item_type, item, child, limits)
                out[str(key)] = converted
                ok &= good and good_key
            return out, ok
        if dataclasses.is_dataclass(tp):
            instance = self.dataclass_value(tp, value, path, path[-1] if path else "recipe")
            return instance, instance is not None
        return self.scalar(tp, value, path, limits)

    def scalar(self, tp: Any, value: Any, path: tuple[str, ...], limits: Limits = Limits()) -> tuple[Any, bool]:
        """int, float, bool, str (ints are accepted as floats; ``--set`` strings are coerced);
        numbers are checked against ``limits``."""
        if tp is Any:
            return value, True
        from_set = self.where(path).startswith("--set")
        converted: Any = None
        ok = False
        if tp is bool:
            ok, converted = isinstance(value, bool), value
        elif tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                ok, converted = True, value
            elif isinstance(value, float) and value.is_integer() and from_set:
                ok, converted = True, int(value)
        elif tp is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ok, converted = True, float(value)
        elif tp is str:
            if isinstance(value, str):
                ok, converted = True, value
            elif from_set and isinstance(value, (int, float)) and not isinstance(value, bool):
                ok, converted = True, str(value)
        elif isinstance(tp, type) and isinstance(value, tp):
            ok, converted = True, value
        if not ok:
            self.error(path, f"expected {describe_type(tp)}, got {_show(value)}")
            return None, False
        if tp in (int, float):
            problem = limits.problem(converted)
            if problem:
                self.error(path, problem)
                return None, False
        return converted, True


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = 8


def _brief(value: Any) -> str:
    text = _REPR.repr(value)  # bounded work, whatever the size of the value
    return text if len(text) < 40 else text[:37] + "..."


def _show(value: Any) -> str:
    kind = "null" if value is None else type(value).__name__
    return f"{kind} {_brief(value)}"


# -- checks across the whole recipe -------------------------------------------------------
def _declared_groups(params: Any) -> dict[str, str] | None:
    declare = getattr(params, "parameter_groups", None)
    return dict(declare()) if callable(declare) else None


def recipe_groups(registry: Registry, nodes: dict[tuple[str, ...], ComponentNode], tree: dict) -> dict[str, str] | None:
    """Every parameter-group name of a recipe (camera groups, aliases, the model's and the
    light's...) with its doc; None when a slot's component does not declare its groups (or
    failed to validate), so that names cannot be checked."""
    groups = dict(CAMERA_GROUPS)
    groups.update({alias: " + ".join(parts) for alias, parts in GROUP_ALIASES.items()})
    for slot, kind in registry.slots().items():
        if not registry.kinds[kind].owns_groups or tree.get(slot) is None:
            continue
        node = nodes.get((slot,))
        declared = _declared_groups(node.params) if node is not None else None
        if declared is None:
            return None
        groups.update(declared)
    return groups


def _groups_elsewhere(registry: Registry, nodes: dict) -> dict[str, list[tuple[str, str]]]:
    """Group name -> (slot, component) of the registered components not in the recipe that declare it."""
    out: dict[str, list[tuple[str, str]]] = {}
    for slot, kind in registry.slots().items():
        if not registry.kinds[kind].owns_groups:
            continue
        current = nodes.get((slot,))
        for name in registry.names(kind):
            if current is not None and current.type == name:
                continue
            try:
                declared = _declared_groups(registry.get(kind, name).params())
            except Exception:  # required parameters, or a failing rule: nothing to learn from it
                continue
            for group in declared or {}:
                out.setdefault(group, []).append((slot, name))
    return out


def _check_groups(validator: Validator, tree: dict) -> None:
    if not validator.group_refs:
        return
    registry, nodes = validator.registry, validator.nodes
    groups = recipe_groups(registry, nodes, tree)
    if groups is None:
        return
    elsewhere: dict | None = None
    for path, name in validator.group_refs:
        if name in groups:
            continue
        message = f"unknown parameter group '{name}'"
        hint = did_you_mean(name, groups)
        if hint:
            message += f" (did you mean '{hint}'?)"
        else:
            elsewhere = _groups_elsewhere(registry, nodes) if elsewhere is None else elsewhere
            target = name if name in elsewhere else did_you_mean(name, elsewhere)
            if target is not None:
                owners = elsewhere[target]
                slot = owners[0][0]
                current = nodes.get((slot,))
                have = f"this recipe's {slot} {current.type} has none" if current else f"this recipe has no {slot}"
                where = f"'{target}' is a group of {', '.join(sorted({n for _, n in owners}))}; {have}"
                message += f": {where}" if target == name else f" (did you mean '{target}'? {where})"
        validator.error(path, message + f". Groups here: {', '.join(groups)}")


def _check_needs(validator: Validator, tree: dict) -> None:
    for path, node in validator.nodes.items():
        for slot, names in validator.registry.get(node.kind, node.type).needs.items():
            held = validator.nodes.get((slot,))
            if held is None and tree.get(slot) is not None:
                continue  # the slot's own problem is reported already
            if held is None or held.type not in names:
                have = f"this recipe's {slot} is '{held.type}'" if held else f"this recipe has no {slot}"
                validator.error(path + ("type",), f"{node.kind} '{node.type}' works only with the {slot} "
                                f"{' or '.join(names)}; {have}")


def validate_recipe(tree: dict, registry: Registry, locations: Locations, source: str) -> ValidatedRecipe:
    """Validate a merged recipe tree; raises :class:`RecipeError` listing every issue."""
    validator = Validator(registry, locations, source)
    version = tree.get("facerecon")
    if "facerecon" in tree and version != FORMAT_VERSION:
        validator.error(("facerecon",), f"unsupported recipe format version {_brief(version)}; this facerecon reads {FORMAT_VERSION}")
        tree = {**tree, "facerecon": FORMAT_VERSION}
    root = validator.dataclass_value(recipe_schema(tuple(registry.kinds.values())), tree, (), "the recipe")
    task = validator.nodes.get(("task",))
    if task is not None:
        slots = registry.slots()
        for slot in registry.get("task", task.type).requires:
            if slot in slots and tree.get(slot) is None:
                kind = slots[slot]
                names = ", ".join(registry.names(kind)) or "none installed"
                validator.error((slot,), f"task '{task.type}' needs a {kind} here ({slot}: {{type: NAME}}). Installed: {names}")
            elif slot == "stages" and not (root.stages if root is not None else tree.get("stages")):
                validator.error(("stages",), f"task '{task.type}' needs at least one stage")
    _check_groups(validator, tree)
    _check_needs(validator, tree)
    if validator.issues:
        raise RecipeError(source, validator.issues)
    return ValidatedRecipe(root=root, source=source, tree=tree)
