"""Component kinds, declared in one place.

A kind is a family of interchangeable components (every renderer, every loss...). Its
declaration names the interface its components implement, the contract suite that tests them
and the recipe slot that holds one of them, if any. Everything else (the registry, the recipe
schema, the builder, the CLI and the contract suites) reads these declarations; a plugin adds a
kind of its own through the ``facerecon_add_kinds`` hook (:meth:`facerecon.registry.Registry.add_kind`).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["Kind", "BUILTIN_KINDS", "load_attribute"]


def load_attribute(target: str) -> Any:
    """Import ``"package.module:Attribute"`` and return the attribute."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class Kind:
    """One component kind.

    Attributes:
        name: what ``registry.register(kind, ...)`` and ``facerecon describe KIND`` use.
        doc: one line saying what components of this kind do.
        interface: ``"module:Class"`` of the abstract class every component subclasses
            (imported only when a component is built or tested).
        contract: ``"module:Class"`` of the contract test suite for the kind, or "".
        slot: the top-level recipe key holding one component of this kind (``model``), or None
            when components are only named inside other nodes (losses in stages).
        owns_groups: components of this kind declare optimisable parameter groups
            (``parameter_groups()`` on their params); the validator checks group names in the
            recipe against them.
        provider: the plugin that added the kind ("facerecon" for the built-in ones).
    """

    name: str
    doc: str
    interface: str
    contract: str = ""
    slot: str | None = None
    owns_groups: bool = False
    provider: str = "facerecon"

    def load_interface(self) -> type:
        """The interface class (imports it, and torch with it)."""
        return load_attribute(self.interface)

    def load_contract(self) -> type | None:
        """The contract suite class, or None when the kind has none."""
        return load_attribute(self.contract) if self.contract else None


def _builtin(name: str, doc: str, interface: str, contract: str, slot: str | None, owns_groups: bool = False) -> Kind:
    return Kind(name=name, doc=doc, interface=f"facerecon.interfaces:{interface}",
                contract=f"facerecon.testing:{contract}", slot=slot, owns_groups=owns_groups)


#: The kinds facerecon itself defines, in the order recipes and listings show them.
BUILTIN_KINDS: tuple[Kind, ...] = (
    _builtin("task", "what `facerecon run` executes (fit, reconstruct, train, evaluate, ...)", "Task", "TaskContract", "task"),
    _builtin("morphable_model", "identity/expression/albedo statistical face model", "MorphableModel",
             "MorphableModelContract", "model", owns_groups=True),
    _builtin("reflectance", "surface BRDF (diffuse, specular, roughness)", "Reflectance", "ReflectanceContract", "reflectance"),
    _builtin("lighting", "scene illumination model", "Lighting", "LightingContract", "light", owns_groups=True),
    _builtin("renderer", "differentiable image formation", "Renderer", "RendererContract", "renderer"),
    _builtin("encoder", "image -> latent feature network", "Encoder", "EncoderContract", "encoder"),
    _builtin("loss", "one weighted objective term", "Loss", "LossContract", None),
    _builtin("face_detector", "finds face boxes in a photo", "FaceDetector", "FaceDetectorContract", "face_detector"),
    _builtin("landmark_detector", "finds 68 iBUG landmarks in a face box", "LandmarkDetector",
             "LandmarkDetectorContract", "landmark_detector"),
    _builtin("dataset", "yields input images", "Dataset", "DatasetContract", "dataset"),
    _builtin("exporter", "writes results to files", "Exporter", "ExporterContract", None),
    _builtin("texture_decoder", "latent -> UV map network (a network's albedo decoders)", "TextureDecoder",
             "TextureDecoderContract", None),
)
