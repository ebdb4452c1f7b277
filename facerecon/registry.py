"""The typed component registry: one namespace per component kind.

Plugins fill it through the ``facerecon_add_kinds`` and ``facerecon_register_components`` hooks.
It holds only light metadata (kind declarations, parameter dataclasses and import strings);
implementations are imported on first use.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .errors import FaceReconError
from .kinds import BUILTIN_KINDS, Kind
from .params import field_doc

__all__ = ["ComponentSpec", "Registry", "RegistryError", "PluginWarning", "did_you_mean"]

_KIND_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_IMPORT_STRING = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class PluginWarning(UserWarning):
    """A plugin works but breaks a convention (an undocumented parameter, a heavy registration module)."""


class RegistryError(FaceReconError):
    """A registration conflict, a plugin that fails to load, or an unknown kind or name."""

    exit_code = 2


def did_you_mean(word: str, choices: list[str] | set[str]) -> str | None:
    """The closest of ``choices`` to ``word``, or None when nothing is close."""
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return match[0] if match else None


@dataclass(frozen=True)
class ComponentSpec:
    """What the registry knows about one component.

    Attributes:
        kind: the name of its :class:`~facerecon.kinds.Kind`.
        name: the short name recipes use (``type: cook-torrance``).
        params: frozen dataclass of parameters (fields declared with :func:`facerecon.params.param`).
        factory: ``"module:attribute"`` import string of the implementation class, or the class
            itself. It is called as ``factory(params, context)``.
        summary: one line for listings.
        provider: name of the plugin that registered it.
        distribution: ``(name, version)`` of the distribution providing the plugin, if any.
        requires: for tasks, the recipe slots the task needs (``("model", "renderer")``).
        needs: recipe slot -> the component names this component works with there
            (``{"light": ("sh",)}``); the validator refuses a recipe whose slot holds another.
        check: ``"module:function"`` import string or callable taking no argument, for components that
            need something a plain install lacks: returns None when the component can be built here,
            else one paragraph saying what is missing and the command that provides it. It must be
            cheap and import nothing heavy (``facerecon plugins`` and ``describe`` call it).
    """

    kind: str
    name: str
    params: type
    factory: str | Callable[..., Any]
    summary: str = ""
    provider: str = ""
    distribution: tuple[str, str] | None = None
    requires: tuple[str, ...] = ()
    needs: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    check: str | Callable[[], str | None] | None = None

    def load(self) -> Callable[..., Any]:
        """Import and return the implementation class (imports torch etc. only now)."""
        return self._resolve(self.factory)

    def unavailable(self) -> str | None:
        """Why this component cannot be built here and how to fix it, or None when it can (see ``check``)."""
        return None if self.check is None else self._resolve(self.check)()

    def _resolve(self, target: str | Callable[..., Any]) -> Callable[..., Any]:
        """``target`` itself, or the attribute a ``"module:attribute"`` string names."""
        if not isinstance(target, str):
            return target
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        try:
            return getattr(module, attr)
        except AttributeError as exc:  # pragma: no cover - plugin bug
            raise RegistryError(
                f"{self.kind} '{self.name}' (from {self.provider}) points at {target!r}, "
                f"but {module_name} has no attribute {attr!r}."
            ) from exc


class Registry:
    """Kinds and components by kind and name; filled by plugins, read by the recipe loader and the CLI.

    Attributes:
        kinds: every kind by name: the built-in ones, then those plugins added.
        warnings: conventions plugins broke while registering (shown by the CLI).
    """

    def __init__(self) -> None:
        self.kinds: dict[str, Kind] = {kind.name: kind for kind in BUILTIN_KINDS}
        self.warnings: list[str] = []
        self._components: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in self.kinds}
        self._provider = ""
        self._distribution: tuple[str, str] | None = None

    def _set_provider(self, provider: str, distribution: tuple[str, str] | None) -> None:
        """Called by the plugin manager before each plugin's hooks."""
        self._provider, self._distribution = provider, distribution

    def warn(self, message: str) -> None:
        """Record a :class:`PluginWarning` (and emit it through :mod:`warnings`)."""
        self.warnings.append(message)
        warnings.warn(message, PluginWarning, stacklevel=3)

    # -- kinds -----------------------------------------------------------------------------
    def add_kind(
        self,
        name: str,
        *,
        doc: str,
        interface: str,
        contract: str = "",
        slot: str | None = None,
        owns_groups: bool = False,
    ) -> Kind:
        """Add a component kind (call it from ``facerecon_add_kinds``).

        Args:
            name: lower-case identifier (``tracker``), unique among kinds.
            doc: one line saying what components of the kind do.
            interface: ``"module:Class"`` of the abstract class components subclass.
            contract: ``"module:Class"`` of its contract test suite, or "".
            slot: top-level recipe key that holds one component of the kind, or None.
            owns_groups: its components declare optimisable parameter groups.

        Raises:
            RegistryError: a malformed name or import string, or a name or slot already taken.
        """
        from .recipe.schema import RESERVED_KEYS

        who = self._provider or "?"
        if not _KIND_NAME.match(name):
            raise RegistryError(f"Plugin {who} adds the kind {name!r}: kind names are lower-case identifiers (my_kind).")
        existing = self.kinds.get(name)
        if existing is not None:
            raise RegistryError(f"Two plugins add the kind {name!r}: {existing.provider} and {who}. "
                                "Uninstall one, or block it with --disable-plugin NAME.")
        for label, target in (("interface", interface), ("contract", contract)):
            if (target or label == "interface") and not _IMPORT_STRING.match(target or ""):
                raise RegistryError(f"Plugin {who} adds the kind {name!r} with {label} {target!r}; "
                                    "give an import string \"package.module:Class\".")
        if slot is not None:
            taken = {k.slot: k.name for k in self.kinds.values() if k.slot}
            if not _KIND_NAME.match(slot) or slot in taken or slot in RESERVED_KEYS:
                owner = f"kind '{taken[slot]}'" if slot in taken else "the recipe format"
                raise RegistryError(f"Plugin {who} adds the kind {name!r} with recipe slot {slot!r}, "
                                    + (f"which {owner} already uses." if slot in taken or slot in RESERVED_KEYS
                                       else "which is not a lower-case identifier."))
        kind = Kind(name=name, doc=doc, interface=interface, contract=contract, slot=slot,
                    owns_groups=owns_groups, provider=who)
        self.kinds[name] = kind
        self._components[name] = {}
        return kind

    def kind(self, name: str) -> Kind:
        """The declaration of kind ``name``; raises :class:`RegistryError` with a did-you-mean."""
        try:
            return self.kinds[name]
        except KeyError:
            hint = did_you_mean(str(name), self.kinds)
            raise RegistryError(
                f"Unknown component kind {name!r}" + (f" (did you mean {hint!r}?)" if hint else "")
                + f". Known kinds: {', '.join(self.kinds)}."
            ) from None

    def slots(self) -> dict[str, str]:
        """Recipe slot -> kind name, for every kind that has a slot."""
        return {kind.slot: kind.name for kind in self.kinds.values() if kind.slot}

    # -- components ------------------------------------------------------------------------
    def register(
        self,
        kind: str,
        name: str,
        *,
        params: type,
        factory: str | Callable[..., Any],
        summary: str = "",
        requires: tuple[str, ...] = (),
        needs: dict[str, tuple[str, ...] | list[str]] | None = None,
        check: str | Callable[[], str | None] | None = None,
    ) -> None:
        """Register one component.

        Args:
            kind: the name of a kind (``facerecon kinds`` lists them).
            name: short name used by recipes; unique within the kind.
            params: frozen dataclass of the component's parameters.
            factory: ``"module:Class"`` (imported lazily) or the class; called as
                ``factory(params, context)``.
            summary: one-line description.
            requires: for tasks, the recipe slots the task needs.
            needs: recipe slot -> names of the components this one works with there, e.g.
                ``{"light": ("sh",)}``; checked when a recipe is validated.
            check: for components that need something a plain install lacks: ``"module:function"``
                or a callable returning None when usable here, else what is missing and how to get it.

        Raises:
            RegistryError: unknown kind, params not a frozen dataclass, the name is taken, or
                ``needs`` names an unknown slot.
        """
        if kind not in self.kinds:
            hint = did_you_mean(kind, self.kinds)
            raise RegistryError(
                f"Plugin {self._provider or '?'} registers {name!r} under unknown kind {kind!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
                + f". Known kinds: {', '.join(self.kinds)}."
            )
        if not (dataclasses.is_dataclass(params) and params.__dataclass_params__.frozen):  # type: ignore[attr-defined]
            raise RegistryError(
                f"{kind} {name!r} from {self._provider or '?'}: params must be a frozen dataclass, "
                f"got {params!r}."
            )
        existing = self._components[kind].get(name)
        if existing is not None:
            raise RegistryError(
                f"Two plugins register the {kind} {name!r}: {existing.provider} and "
                f"{self._provider or '?'}. Uninstall one, or block it with --disable-plugin NAME."
            )
        needs = {slot: tuple(names) for slot, names in (needs or {}).items()}
        unknown = sorted(set(needs) - set(self.slots()))
        if unknown:
            raise RegistryError(
                f"{kind} {name!r} from {self._provider or '?'} needs components in unknown recipe slot(s) "
                f"{', '.join(unknown)}. Slots: {', '.join(self.slots())}."
            )
        undocumented = [f.name for f in dataclasses.fields(params) if not field_doc(f).strip()]
        if undocumented:
            self.warn(
                f"{kind} '{name}' (plugin {self._provider or '?'}): parameter(s) {', '.join(undocumented)} of "
                f"{params.__name__} have no doc; declare them as param(default, \"doc\") (describe and "
                "error messages show it)."
            )
        self._components[kind][name] = ComponentSpec(
            kind=kind,
            name=name,
            params=params,
            factory=factory,
            summary=summary,
            provider=self._provider,
            distribution=self._distribution,
            requires=tuple(requires),
            needs=needs,
            check=check,
        )

    def get(self, kind: str, name: str) -> ComponentSpec:
        """The spec of ``kind``/``name``; raises :class:`RegistryError` with a did-you-mean."""
        self.kind(kind)
        try:
            return self._components[kind][name]
        except KeyError:
            names = self.names(kind)
            hint = did_you_mean(str(name), names)
            raise RegistryError(
                f"No {kind} named {name!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
                + f". Installed: {', '.join(names) or 'none'}."
            ) from None

    def has(self, kind: str, name: str) -> bool:
        """Whether ``kind``/``name`` is registered."""
        return name in self._components.get(kind, {})

    def names(self, kind: str) -> list[str]:
        """Sorted names registered under ``kind``."""
        return sorted(self._components.get(kind, {}))

    def __iter__(self) -> Iterator[ComponentSpec]:
        for kind in self.kinds:
            for name in sorted(self._components[kind]):
                yield self._components[kind][name]
