"""A test-only plugin: an exporter that fails with a chosen OS error for some faces (a full disk)."""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from facerecon import hookimpl, param
from facerecon.interfaces import Exporter


@dataclass(frozen=True)
class FailForParams:
    """Fails with an OS error for the named faces, writes nothing for the others."""

    names: list[str] = param(doc="Faces whose export fails.", factory=list)
    error: int = param(errno.ENOSPC, "errno of the failure (28: no space left on device).")


class FailFor(Exporter):
    """Raises ``OSError(error)`` for the faces in ``names``, as a full disk would."""

    def export(self, result, folder):
        """Fail for the named faces; write nothing otherwise."""
        if result.name in self.params.names:
            raise OSError(self.params.error, os.strerror(self.params.error), str(folder / "mesh.obj"))
        return []


@hookimpl
def facerecon_register_components(registry):
    """Register the failing exporter."""
    registry.register("exporter", "fail-for", params=FailForParams, factory=FailFor,
                      summary="test only: an OS error for some faces")
