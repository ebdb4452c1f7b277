"""The typed component registry: one namespace per component kind.

Plugins fill it through the ``facerecon_register_components`` hook. It holds only light
metadata (parameter dataclasses and import strings); implementations are imported on first use.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .errors import FaceReconError

__all__ = ["KINDS", "ComponentSpec", "Registry", "RegistryError", "did_you_mean"]

#: Every component kind, with what it does. Recipes and ``facerecon components`` use these names.
KINDS: dict[str, str] = {
    "task": "what `facerecon run` executes (fit, reconstruct, train, evaluate, ...)",
    "encoder": "image -> latent feature network",
    "morphable_model": "identity/expression/albedo statistical face model",
    "reflectance": "surface BRDF (diffuse, specular, roughness)",
    "lighting": "scene illumination model",
    "renderer": "differentiable image formation",
    "loss": "one weighted objective term",
    "face_detector": "finds face boxes in a photo",
    "landmark_detector": "finds 68 iBUG landmarks in a face box",
    "dataset": "yields input images",
    "exporter": "writes results to files",
    "texture_decoder": "latent -> UV map network (a network's albedo decoders)",
}


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
        kind: one of :data:`KINDS`.
        name: the short name recipes use (``type: cook-torrance``).
        params: frozen dataclass of parameters (fields declared with :func:`facerecon.params.param`).
        factory: ``"module:attribute"`` import string of the implementation class, or the class
            itself. It is called as ``factory(params, context)``.
        summary: one line for listings.
        provider: name of the plugin that registered it.
        distribution: ``(name, version)`` of the distribution providing the plugin, if any.
        requires: for tasks, the recipe slots the task needs (``("model", "renderer")``).
    """

    kind: str
    name: str
    params: type
    factory: str | Callable[..., Any]
    summary: str = ""
    provider: str = ""
    distribution: tuple[str, str] | None = None
    requires: tuple[str, ...] = ()

    def load(self) -> Callable[..., Any]:
        """Import and return the implementation class (imports torch etc. only now)."""
        if not isinstance(self.factory, str):
            return self.factory
        module_name, _, attr = self.factory.partition(":")
        module = importlib.import_module(module_name)
        try:
            return getattr(module, attr)
        except AttributeError as exc:  # pragma: no cover - plugin bug
            raise RegistryError(
                f"{self.kind} '{self.name}' (from {self.provider}) points at {self.factory!r}, "
                f"but {module_name} has no attribute {attr!r}."
            ) from exc


class Registry:
    """Components by kind and name; filled by plugins, read by the recipe loader and the CLI."""

    def __init__(self) -> None:
        self._components: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in KINDS}
        self._provider = ""
        self._distribution: tuple[str, str] | None = None

    def _set_provider(self, provider: str, distribution: tuple[str, str] | None) -> None:
        """Called by the plugin manager before each plugin's registration hook."""
        self._provider, self._distribution = provider, distribution

    def register(
        self,
        kind: str,
        name: str,
        *,
        params: type,
        factory: str | Callable[..., Any],
        summary: str = "",
        requires: tuple[str, ...] = (),
    ) -> None:
        """Register one component.

        Args:
            kind: one of :data:`KINDS`.
            name: short name used by recipes; unique within the kind.
            params: frozen dataclass of the component's parameters.
            factory: ``"module:Class"`` (imported lazily) or the class; called as
                ``factory(params, context)``.
            summary: one-line description.
            requires: for tasks, the recipe slots the task needs.

        Raises:
            RegistryError: unknown kind, params not a frozen dataclass, or the name is taken.
        """
        if kind not in KINDS:
            hint = did_you_mean(kind, KINDS)
            raise RegistryError(
                f"Plugin {self._provider or '?'} registers {name!r} under unknown kind {kind!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
                + f". Known kinds: {', '.join(KINDS)}."
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
        self._components[kind][name] = ComponentSpec(
            kind=kind,
            name=name,
            params=params,
            factory=factory,
            summary=summary,
            provider=self._provider,
            distribution=self._distribution,
            requires=tuple(requires),
        )

    def get(self, kind: str, name: str) -> ComponentSpec:
        """The spec of ``kind``/``name``; raises :class:`RegistryError` with a did-you-mean."""
        if kind not in self._components:
            raise RegistryError(f"Unknown component kind {kind!r}. Known kinds: {', '.join(KINDS)}.")
        try:
            return self._components[kind][name]
        except KeyError:
            names = self.names(kind)
            hint = did_you_mean(name, names)
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
        for kind in KINDS:
            for name in sorted(self._components[kind]):
                yield self._components[kind][name]
