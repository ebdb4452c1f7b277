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
def facerecon_add_kinds(registry):
    """Add component kinds (a network head, a texture decoder, a tracker...).

    Called once per plugin, for every plugin before any ``facerecon_register_components``, so
    that any plugin may register components of a kind another plugin added. Call
    ``registry.add_kind(name, doc="...", interface="package.module:Interface",
    contract="package.testing:InterfaceContract", slot="tracker")`` for each kind; ``slot``
    (optional) is the top-level recipe key holding one component of the kind, which tasks may
    ``require`` and build with ``context.build(slot)``. Keep the module light: the interface and
    the contract are import strings, imported only when a component is built or tested.

    :param registry: the :class:`facerecon.registry.Registry` to extend.
    """


@hookspec
def facerecon_register_components(registry):
    """Register components into the typed registry.

    Called once per plugin when the plugin manager is set up. Call
    ``registry.register(kind, name, params=ParamsDataclass, factory="package.module:Class",
    summary="...")`` for each component (optionally ``requires=`` recipe slots, for tasks, and
    ``needs={"light": ("sh",)}`` for components that work only with those components in another
    slot). Keep the module defining this hook light: import no
    torch here; the ``factory`` string is imported only when the component is built.

    :param registry: the :class:`facerecon.registry.Registry` to fill.
    """
