"""Session defaults and shared fixtures for every test.

- No entry-point autoload (FACERECON_DISABLE_PLUGIN_AUTOLOAD, README): tests see the built-in plugins only, whatever else is
  installed. Tests of entry-point discovery turn it back on in their subprocess environment.
- Derived model data is cached in ``<repo>/.cache`` unless ``FACERECON_CACHE`` is set, so it is
  built once and reused between test runs.
- ``tests/core`` is importable: it holds ``facerecon_test_components``, a test-only plugin whose
  components have fixed names, so recipe error messages do not depend on the built-ins.
"""
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_PLUGIN_DIR = Path(__file__).resolve().parent / "core"
TEST_PLUGIN = "facerecon_test_components"

os.environ["FACERECON_DISABLE_PLUGIN_AUTOLOAD"] = "1"
os.environ.setdefault("FACERECON_CACHE", str(REPO / ".cache"))
if str(TEST_PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(TEST_PLUGIN_DIR))


@pytest.fixture(scope="session")
def core_host():
    """A plugin host with only the test plugin (every built-in blocked)."""
    from facerecon.pluginmanager import DEFAULT_PLUGINS, load_plugins

    return load_plugins(extra_modules=[TEST_PLUGIN], disabled=DEFAULT_PLUGINS)


@pytest.fixture
def core_registry(core_host):
    """The registry of :func:`core_host`: task ``job``, renderers ``widget``/``gadget``, loss ``term``."""
    return core_host.registry


@pytest.fixture
def write_recipe(tmp_path):
    """``write_recipe(text, name="recipe.yaml")`` writes dedented YAML under tmp_path and returns its path."""

    def write(text: str, name: str = "recipe.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return write
