"""The plugin contract: every hook facerecon calls, documented here and only here.

A plugin is any module or object with functions decorated by ``facerecon.hookimpl`` whose names
match the hooks below. Built-in plugins and third-party distributions (entry-point group
``facerecon``) register through exactly the same hooks.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("facerecon")
hookimpl = pluggy.HookimplMarker("facerecon")


@hookspec
def facerecon_register_components(registry):
    """Register components into the typed registry.

    Called once per plugin when the plugin manager is set up. Call
    ``registry.register(kind, name, params=ParamsDataclass, factory="package.module:Class",
    summary="...")`` for each component. Keep the module defining this hook light: import no
    torch here; the ``factory`` string is imported only when the component is built.

    :param registry: the :class:`facerecon.registry.Registry` to fill.
    """
