"""The typed registry: registration rules and lookups with did-you-mean."""
from __future__ import annotations

import dataclasses

import pytest

from facerecon.pluginmanager import DEFAULT_PLUGINS, load_plugins
from facerecon.kinds import BUILTIN_KINDS
from facerecon.registry import Registry, RegistryError

KINDS = [kind.name for kind in BUILTIN_KINDS]

TEST = "facerecon_test_components"


def load(*extra: str):
    return load_plugins(extra_modules=[TEST, *extra], disabled=DEFAULT_PLUGINS)


def test_duplicate_name_names_both_providers():
    with pytest.raises(RegistryError) as info:
        load(f"{TEST}:duplicate")
    assert str(info.value) == (
        f"Two plugins register the renderer 'widget': {TEST} and {TEST}:duplicate. "
        "Uninstall one, or block it with --disable-plugin NAME."
    )


def test_blocking_one_of_two_duplicates_resolves_it():
    host = load_plugins(extra_modules=[TEST, f"{TEST}:duplicate"], disabled=[*DEFAULT_PLUGINS, f"{TEST}:duplicate"])
    assert host.registry.get("renderer", "widget").provider == TEST


def test_unknown_kind():
    with pytest.raises(RegistryError) as info:
        load(f"{TEST}:bad_kind")
    assert str(info.value) == (
        f"Plugin {TEST}:bad_kind registers 'thing' under unknown kind 'renderers' (did you mean 'renderer'?). "
        f"Known kinds: {', '.join(KINDS)}."
    )


def test_params_must_be_a_frozen_dataclass():
    with pytest.raises(RegistryError) as info:
        load(f"{TEST}:not_frozen")
    assert str(info.value) == (
        f"renderer 'thing' from {TEST}:not_frozen: params must be a frozen dataclass, got <class '{TEST}.MutableParams'>."
    )
    registry = Registry()
    with pytest.raises(RegistryError, match="params must be a frozen dataclass, got <class 'int'>"):
        registry.register("loss", "x", params=int, factory="x:y")


def test_lookups(core_registry):
    assert core_registry.names("renderer") == ["gadget", "widget"]
    assert core_registry.has("renderer", "widget") and not core_registry.has("renderer", "nope")
    assert not core_registry.has("nokind", "widget") and core_registry.names("nokind") == []
    spec = core_registry.get("renderer", "widget")
    assert (spec.kind, spec.name, spec.provider, spec.distribution, spec.summary) == (
        "renderer", "widget", TEST, None, "a test renderer")
    assert core_registry.get("task", "job").requires == ("renderer", "stages")
    assert [(s.kind, s.name) for s in core_registry] == [
        ("task", "job"), ("renderer", "gadget"), ("renderer", "widget"), ("loss", "term")]


def test_get_unknown_name_and_kind(core_registry):
    with pytest.raises(RegistryError) as info:
        core_registry.get("renderer", "widgte")
    assert str(info.value) == "No renderer named 'widgte' (did you mean 'widget'?). Installed: gadget, widget."
    with pytest.raises(RegistryError) as info:
        core_registry.get("encoder", "resnet")
    assert str(info.value) == "No encoder named 'resnet'. Installed: none."
    with pytest.raises(RegistryError) as info:
        core_registry.get("renderers", "widget")
    assert str(info.value) == (
        f"Unknown component kind 'renderers' (did you mean 'renderer'?). Known kinds: {', '.join(KINDS)}.")


def test_factory_loads_lazily(core_registry):
    spec = core_registry.get("loss", "term")
    assert spec.factory == "facerecon_test_impl:Term"
    cls = spec.load()
    assert cls.__name__ == "Term" and cls.__module__ == "facerecon_test_impl"


def test_availability_check(core_registry, tmp_path, monkeypatch):
    """A component's check says what is missing until it is installed; components without one are available."""
    gadget = core_registry.get("renderer", "gadget")
    assert gadget.unavailable() == "'facerecon_test_gadgetlib' is not installed: run `make gadget`."
    (tmp_path / "facerecon_test_gadgetlib.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert gadget.unavailable() is None
    assert core_registry.get("renderer", "widget").check is None and core_registry.get("renderer", "widget").unavailable() is None
    registry = Registry()
    registry.register("loss", "x", params=gadget.params, factory="x:y", check=lambda: "needs x")
    assert registry.get("loss", "x").unavailable() == "needs x"


def test_required_params_may_follow_defaults():
    from facerecon_test_components import WidgetParams

    params = WidgetParams(label="x")
    assert (params.size, params.label) == (64, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.size = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        WidgetParams()  # type: ignore[call-arg]
