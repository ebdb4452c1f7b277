"""Instantiating validated component nodes (this is where implementations get imported)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import FaceReconError
from ..registry import Registry
from .errors import RecipeError
from .schema import ComponentNode
from .validate import ValidatedRecipe, Validator

__all__ = ["Builder"]


class Builder:
    """Builds components from validated nodes; recipe slots are built once and shared.

    Args:
        registry: the component registry.
        device: torch device handed to components.
        cache_dir: folder for derived data.
        recipe: the validated recipe whose slots ``build("model")`` refers to.
    """

    def __init__(self, registry: Registry, device: Any, cache_dir: Path, recipe: ValidatedRecipe | None = None) -> None:
        self.registry = registry
        self.device = device
        self.cache_dir = cache_dir
        self.recipe = recipe
        self._slots: dict[str, Any] = {}

    def __call__(self, what: str | ComponentNode | None) -> Any:
        """``build("model")`` for a recipe slot (None when empty), or ``build(node)``."""
        if what is None:
            return None
        if isinstance(what, ComponentNode):
            return self.build(what)
        slots = self.registry.slots()
        if what not in slots:
            raise KeyError(f"unknown recipe slot {what!r}; slots: {', '.join(slots)}")
        if what not in self._slots:
            node = getattr(self.recipe.root, what) if self.recipe is not None else None
            self._slots[what] = self.build(node) if node is not None else None
        return self._slots[what]

    def build(self, node: ComponentNode) -> Any:
        """Import the implementation of ``node`` and construct it as ``factory(params, context)``."""
        from ..interfaces import BuildContext

        spec = self.registry.get(node.kind, node.type)
        try:
            factory = spec.load()
        except ImportError as exc:
            raise FaceReconError(
                f"The {node.kind} '{node.type}' (plugin {spec.provider}) could not be imported: {exc}. "
                "Install what it needs or pick another component in the recipe."
            ) from exc
        context = BuildContext(device=self.device, cache_dir=self.cache_dir, build=self, registry=self.registry)
        component = factory(node.params, context)
        interface = self.registry.kind(node.kind).load_interface()
        if not isinstance(component, interface):
            raise FaceReconError(
                f"The {node.kind} '{node.type}' from plugin {spec.provider} built a "
                f"{type(component).__name__}, which does not implement {interface.__module__}.{interface.__name__}."
            )
        return component

    def build_node(self, kind: str, value: dict) -> Any:
        """Validate a raw ``{type: ..., ...}`` mapping of ``kind`` and build it."""
        validator = Validator(self.registry, {}, "<python>")
        node = validator.component(kind, value, (kind,))
        if validator.issues:
            raise RecipeError("<python>", validator.issues)
        return self.build(node)
