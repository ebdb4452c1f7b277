"""The ``xyz`` exporter: the reconstructed vertices as a text point cloud."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facerecon.interfaces import Exporter, FaceResult
from facerecon.io import atomic_write

__all__ = ["XyzExporter"]


class XyzExporter(Exporter):
    """Writes ``<filename>.xyz``: one ``x y z [nx ny nz]`` line per vertex (camera frame, mm).

    MeshLab and CloudCompare open the file directly. It is written through
    :func:`facerecon.io.atomic_write`, so an interrupted run never leaves half a file.
    """

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write the point cloud of ``result`` (V vertices) into ``folder``; returns its path."""
        columns = [result.vertices]
        if self.params.normals:
            columns.append(result.normals)
        table = np.concatenate(columns, axis=1).astype(np.float64)
        path = Path(folder) / f"{self.params.filename}.xyz"
        with atomic_write(path) as handle:
            np.savetxt(handle, table, fmt=f"%.{self.params.precision}f")
        return [path]
