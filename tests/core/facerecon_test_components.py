"""A test-only plugin: small components with fixed names, so recipe messages do not depend on
which built-ins exist. Registration only; the implementations live in
:mod:`facerecon_test_impl` and are imported when built (like a real plugin)."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Literal, Optional

from facerecon import hookimpl, param


@dataclass(frozen=True)
class JobParams:
    """Parameters of the test job."""

    faces: Literal["all", "largest"] = param("all", "Which faces to process.")
    fail: bool = param(False, "Raise a RuntimeError (a bug) instead of finishing.")


@dataclass(frozen=True)
class WidgetParams:
    """Parameters of the widget renderer."""

    size: int = param(64, "Image side in pixels.", ge=1)
    scale: float = param(1.0, "Scale factor.", gt=0)
    mode: Literal["fast", "exact"] = param("fast", "Speed/accuracy trade-off.")
    tags: list[str] = param(doc="Free-form labels.", factory=list)
    label: str = param(doc="A name that must be given.")


@dataclass(frozen=True)
class GadgetParams:
    """Parameters of the gadget renderer."""

    zoom: float = param(2.0, "Zoom factor.")
    label: str = param(doc="A name that must be given.")
    limit: Optional[int] = param(8, "Most items drawn; null: no limit.", ge=1)


@dataclass(frozen=True)
class TermParams:
    """Parameters of the test loss term."""

    weight: float = param(1.0, "Multiplier of the term.")
    power: int = param(2, "Exponent.")


def gadget_missing() -> str | None:
    """The gadget renderer's availability check: it needs the module ``facerecon_test_gadgetlib``."""
    if importlib.util.find_spec("facerecon_test_gadgetlib") is None:
        return "'facerecon_test_gadgetlib' is not installed: run `make gadget`."
    return None


@hookimpl
def facerecon_register_components(registry):
    """Register the test components."""
    impl = "facerecon_test_impl"
    registry.register("task", "job", params=JobParams, factory=f"{impl}:Job", summary="a test task",
                      requires=("renderer", "stages"))
    registry.register("renderer", "widget", params=WidgetParams, factory=f"{impl}:Widget", summary="a test renderer")
    registry.register("renderer", "gadget", params=GadgetParams, factory=f"{impl}:Widget", summary="another test renderer",
                      check="facerecon_test_components:gadget_missing")
    registry.register("loss", "term", params=TermParams, factory=f"{impl}:Term", summary="a test loss")


class _Duplicate:
    """A second plugin registering a name the first one has."""

    @hookimpl
    def facerecon_register_components(self, registry):
        registry.register("renderer", "widget", params=GadgetParams, factory="x:y", summary="again")


class _BadKind:
    @hookimpl
    def facerecon_register_components(self, registry):
        registry.register("renderers", "thing", params=GadgetParams, factory="x:y")


@dataclass
class MutableParams:
    """Not frozen."""

    size: int = param(1, "Size.")


class _NotFrozen:
    @hookimpl
    def facerecon_register_components(self, registry):
        registry.register("renderer", "thing", params=MutableParams, factory="x:y")


duplicate = _Duplicate()
bad_kind = _BadKind()
not_frozen = _NotFrozen()
