"""A test-only plugin whose registration module imports numpy (which facerecon warns about)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy  # noqa: F401  - the point of this module

from facerecon import hookimpl, param


@dataclass(frozen=True)
class HeavyParams:
    """Parameters of the heavy renderer."""

    size: int = param(1, "Size.")


@hookimpl
def facerecon_register_components(registry):
    """Register one renderer."""
    registry.register("renderer", "heavy", params=HeavyParams, factory="facerecon_test_impl:Widget", summary="heavy")
