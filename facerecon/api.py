"""Python entry points: load the plugin registry and build components without a recipe file.

Example::

    from facerecon.api import build
    model = build("morphable_model", "bfm-lite", device="cpu")
    renderer = build("renderer", "rasterizer", antialias=True)
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from .pluginmanager import PluginHost, load_plugins

__all__ = ["default_host", "cache_dir", "build", "resolve_device"]


@functools.lru_cache(maxsize=1)
def default_host() -> PluginHost:
    """The plugin host with built-ins and (unless disabled) entry-point plugins, loaded once."""
    return load_plugins()


def cache_dir() -> Path:
    """Where derived data is cached: ``$FACERECON_CACHE`` or ``~/.cache/facerecon``."""
    root = os.environ.get("FACERECON_CACHE") or Path.home() / ".cache" / "facerecon"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_device(device: str = "auto"):
    """``auto`` -> cuda when available, else cpu; returns a ``torch.device``."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def build(kind: str, name: str, *, device: str = "cpu", host: PluginHost | None = None, **params: Any):
    """Build one component from keyword parameters (validated like a recipe node).

    Args:
        kind: component kind (``renderer``, ``loss``...).
        name: registered name (``rasterizer``).
        device: ``cpu``, ``cuda`` or ``auto``.
        host: plugin host; default :func:`default_host`.
        **params: parameter overrides; nested component nodes as ``{"type": ..., ...}`` dicts.
    """
    from .recipe.build import Builder

    host = host or default_host()
    builder = Builder(host.registry, resolve_device(device), cache_dir())
    return builder.build_node(kind, {"type": name, **params})
