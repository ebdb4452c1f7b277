"""Builds the pluggy plugin manager and the registry it fills.

Order: built-in plugins (:data:`DEFAULT_PLUGINS`), then third-party distributions from the
``facerecon`` entry-point group (unless ``FACERECON_DISABLE_PLUGIN_AUTOLOAD`` is set), then
modules named with ``--plugin``. ``--disable-plugin NAME`` blocks a plugin by its name
(entry-point name or module name) before it loads. A module already loaded under another name
(``--plugin pkg`` for an installed ``pkg``) is loaded once.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass, field

import pluggy

from . import hookspecs
from .registry import Registry, RegistryError

__all__ = ["DEFAULT_PLUGINS", "AUTOLOAD_ENV", "HEAVY_MODULES", "PluginInfo", "PluginHost", "load_plugins"]

#: Built-in plugin modules, registered through the same hook a third party uses.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.tasks",
    "plugins.models",
    "plugins.reflectance",
    "plugins.lighting",
    "plugins.renderers",
    "plugins.losses",
    "plugins.detectors",
    "plugins.encoders",
    "plugins.decoders",
    "plugins.datasets",
    "plugins.exporters",
    "plugins.evaluation",
)

#: Modules a registration module should not import (they slow every start, even `--help`).
HEAVY_MODULES: tuple[str, ...] = ("torch", "numpy", "cv2", "scipy", "mitsuba", "drjit", "dlib", "timm")

#: Set to 1/true/yes to skip third-party entry points (built-ins still load).
AUTOLOAD_ENV = "FACERECON_DISABLE_PLUGIN_AUTOLOAD"


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin: its name, where it came from, and the distribution providing it."""

    name: str
    origin: str  # "builtin", "entry point", "--plugin"
    module: str
    distribution: tuple[str, str] | None


@dataclass
class PluginHost:
    """The plugin manager, the registry it filled and what was loaded or blocked."""

    manager: pluggy.PluginManager
    registry: Registry
    plugins: list[PluginInfo] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def _autoload_disabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _own_distribution() -> tuple[str, str] | None:
    try:
        return ("facerecon", importlib.metadata.version("facerecon"))
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return None


def load_plugins(
    extra_modules: tuple[str, ...] | list[str] = (),
    disabled: tuple[str, ...] | list[str] = (),
    autoload: bool | None = None,
) -> PluginHost:
    """Load built-in, entry-point and extra plugins and fill a fresh registry.

    Args:
        extra_modules: importable module names to load as plugins (``--plugin``).
        disabled: plugin names to block (``--disable-plugin``).
        autoload: load the ``facerecon`` entry-point group; default: unless
            ``FACERECON_DISABLE_PLUGIN_AUTOLOAD`` is set.

    Raises:
        RegistryError: a plugin failed to import or registered a conflicting component.
    """
    pm = pluggy.PluginManager("facerecon")
    pm.add_hookspecs(hookspecs)
    host = PluginHost(manager=pm, registry=Registry())
    for name in disabled:
        pm.set_blocked(name)
        host.blocked.append(name)

    candidates: list[tuple[str, str, str, tuple[str, str] | None]] = []
    own = _own_distribution()
    for module in DEFAULT_PLUGINS:
        candidates.append((module, "builtin", module, own))
    if autoload if autoload is not None else not _autoload_disabled():
        for ep in importlib.metadata.entry_points(group="facerecon"):
            dist = (ep.dist.name, ep.dist.version) if ep.dist is not None else None
            candidates.append((ep.name, "entry point", ep.value, dist))
    for module in extra_modules:
        candidates.append((module, "--plugin", module, None))

    for name, origin, target, dist in candidates:
        module_name, _, attr = target.partition(":")
        if pm.is_blocked(name) or pm.is_blocked(module_name) or pm.has_plugin(name):
            continue
        absent = [m for m in HEAVY_MODULES if m not in sys.modules]
        try:
            obj = importlib.import_module(module_name)
            if attr:
                obj = getattr(obj, attr)
        except Exception as exc:
            raise RegistryError(
                f"Plugin {name!r} ({origin}, {target}) failed to import: {type(exc).__name__}: {exc}. "
                f"Fix or uninstall it, or skip it with --disable-plugin {name}."
            ) from exc
        if pm.is_registered(obj):  # e.g. `--plugin pkg` for a distribution already loaded by entry point
            continue
        heavy = [m for m in absent if m in sys.modules]
        if heavy:
            host.registry.warn(
                f"Plugin {name!r} ({module_name}) imports {', '.join(heavy)} when it loads, which slows every "
                "facerecon start (even --help); import it in the implementation modules and register "
                "factory=\"module:Class\" strings instead."
            )
        pm.register(obj, name=name)
        host.plugins.append(PluginInfo(name=name, origin=origin, module=target, distribution=dist))

    # Call each plugin's hooks separately so the registry knows who added what: every plugin's
    # kinds first, so components may be of a kind another plugin adds.
    info = {p.name: p for p in host.plugins}
    for hook in (pm.hook.facerecon_add_kinds, pm.hook.facerecon_register_components):
        for impl in hook.get_hookimpls():  # in registration order: built-ins first
            plugin = info.get(impl.plugin_name)
            host.registry._set_provider(impl.plugin_name, plugin.distribution if plugin else None)
            impl.function(registry=host.registry)
    host.registry._set_provider("", None)
    return host
