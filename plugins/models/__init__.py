"""Built-in models plugins (registration only: light, no torch import)."""
from __future__ import annotations

from facerecon import hookimpl


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in models."""
