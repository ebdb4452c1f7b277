"""Binary PLY export with per-vertex colours.

Colours are the diffuse albedo map sampled bilinearly (in linear space) at each vertex's uv,
then sRGB-encoded to uint8 (``red``/``green``/``blue``/``alpha`` vertex properties); vertex normals
are written as ``nx``/``ny``/``nz``. Vertices in mm, frame as the ``frame`` parameter says.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from facerecon.interfaces import Exporter, FaceResult
from facerecon.imaging import sample_map
from facerecon.io import atomic_path

from .frames import to_frame
from .maps import encode

__all__ = ["PlyExporter", "vertex_colors"]


def vertex_colors(result: FaceResult) -> np.ndarray:
    """(V, 3) uint8 sRGB diffuse albedo at the vertex uvs."""
    return encode(sample_map(result.diffuse, np.asarray(result.uvs, dtype=np.float64)))


class PlyExporter(Exporter):
    """Writes ``<filename>.ply`` (binary, coloured vertices, normals)."""

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write the PLY file; return its path."""
        colors = vertex_colors(result)
        mesh = trimesh.Trimesh(
            vertices=to_frame(result.vertices, self.params.frame),
            faces=np.asarray(result.faces, dtype=np.int64),
            vertex_normals=to_frame(result.normals, self.params.frame),
            vertex_colors=np.concatenate([colors, np.full((len(colors), 1), 255, np.uint8)], axis=1),
            process=False,
        )
        path = Path(folder) / f"{self.params.filename}.ply"
        with atomic_path(path) as tmp:
            mesh.export(tmp, file_type="ply", encoding="binary", vertex_normal=True)
        return [path]
