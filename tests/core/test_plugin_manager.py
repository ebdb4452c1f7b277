"""Loading plugins: built-ins, --plugin modules, blocking, the autoload switch."""
from __future__ import annotations

import pytest

import facerecon
from facerecon.pluginmanager import AUTOLOAD_ENV, DEFAULT_PLUGINS, load_plugins
from facerecon.registry import RegistryError

TEST = "facerecon_test_components"


def test_builtins_load_like_third_party_plugins():
    host = load_plugins()
    builtins = [p for p in host.plugins if p.origin == "builtin"]
    assert [p.name for p in builtins] == list(DEFAULT_PLUGINS)
    assert all(p.distribution == ("facerecon", facerecon.__version__) for p in builtins)
    assert {spec.provider for spec in host.registry} <= set(DEFAULT_PLUGINS)


def test_plugin_option_loads_a_module():
    host = load_plugins(extra_modules=[TEST])
    info = host.plugins[-1]
    assert (info.name, info.origin, info.module, info.distribution) == (TEST, "--plugin", TEST, None)
    assert host.registry.get("renderer", "widget").provider == TEST


def test_same_module_twice_loads_once():
    host = load_plugins(extra_modules=[TEST, TEST], disabled=DEFAULT_PLUGINS)
    assert [p.name for p in host.plugins] == [TEST]


def test_disabled_plugins_are_blocked():
    host = load_plugins(extra_modules=[TEST], disabled=[TEST, "plugins.losses"])
    assert host.blocked == [TEST, "plugins.losses"]
    names = [p.name for p in host.plugins]
    assert TEST not in names and "plugins.losses" not in names
    assert not host.registry.has("renderer", "widget") and host.registry.names("loss") == []


def test_failing_plugin_import_is_a_user_error():
    with pytest.raises(RegistryError) as info:
        load_plugins(extra_modules=["no_such_facerecon_plugin"])
    assert str(info.value) == (
        "Plugin 'no_such_facerecon_plugin' (--plugin, no_such_facerecon_plugin) failed to import: "
        "ModuleNotFoundError: No module named 'no_such_facerecon_plugin'. Fix or uninstall it, or skip it with "
        "--disable-plugin no_such_facerecon_plugin."
    )
    assert load_plugins(extra_modules=["no_such_facerecon_plugin"], disabled=["no_such_facerecon_plugin"]).plugins


@pytest.mark.parametrize("value, disabled", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_autoload_switch(monkeypatch, value, disabled):
    """FACERECON_DISABLE_PLUGIN_AUTOLOAD=1/true/yes turns entry-point loading off; 0 or empty leaves it on."""
    from facerecon.pluginmanager import _autoload_disabled

    monkeypatch.setenv(AUTOLOAD_ENV, value)
    assert _autoload_disabled() is disabled


def test_tests_run_without_autoload():
    import os

    assert os.environ[AUTOLOAD_ENV] == "1"
