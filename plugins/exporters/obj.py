"""Textured Wavefront OBJ export.

Files: ``<filename>.obj``, ``<filename>.mtl`` and the maps ``diffuse.png``, ``specular.png``
(sRGB-encoded colour) and ``roughness.png`` (linear grey, redner's roughness r in [0, 1]).
``vt`` are the result's uvs (u right, v up; the PNGs' first row is v = 1), ``vn`` the vertex
normals, faces ``f v/vt/vn`` (one uv and normal per vertex, so the three indices are equal).

The MTL uses ``map_Kd`` (diffuse), ``map_Ks`` (specular albedo) and ``map_Pr`` (roughness,
from the PBR extension of the MTL format read by Blender >= 3.x and three.js). ``Ns`` holds the
Blinn-Phong exponent 2/r - 2 of the mean roughness, the same exponent redner's Cook-Torrance uses,
for readers that ignore ``map_Pr``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facerecon.interfaces import Exporter, FaceResult
from facerecon.io import atomic_write

from .frames import to_frame
from .maps import save_map

__all__ = ["ObjExporter", "MATERIAL", "write_maps"]

#: Name of the single material in the MTL file.
MATERIAL = "face"


def write_maps(result: FaceResult, folder: Path) -> list[Path]:
    """Write ``diffuse.png``, ``specular.png`` (sRGB) and ``roughness.png`` (linear) into ``folder``."""
    paths = []
    for name, texture, srgb in (("diffuse", result.diffuse, True), ("specular", result.specular, True),
                                ("roughness", result.roughness, False)):
        path = folder / f"{name}.png"
        save_map(path, texture, srgb=srgb)
        paths.append(path)
    return paths


def _mtl_text(result: FaceResult) -> str:
    mean_roughness = float(np.clip(np.mean(result.roughness), 1e-3, 1.0))
    shininess = max(2.0 / mean_roughness - 2.0, 0.0)
    return "\n".join([
        "# facerecon material: colour maps sRGB-encoded, roughness.png linear (redner roughness)",
        f"newmtl {MATERIAL}",
        "Ka 0 0 0",
        "Kd 1 1 1",
        "Ks 1 1 1",
        f"Ns {shininess:.4f}",
        "illum 2",
        "map_Kd diffuse.png",
        "map_Ks specular.png",
        "map_Pr roughness.png",
        "",
    ])


class ObjExporter(Exporter):
    """Writes the mesh as OBJ with an MTL material and PNG reflectance maps (see module doc)."""

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write ``<filename>.obj`` (+ ``.mtl`` and maps when ``maps``); return the paths."""
        folder = Path(folder)
        stem = self.params.filename
        vertices = to_frame(result.vertices, self.params.frame)
        normals = to_frame(result.normals, self.params.frame)
        index = np.repeat(np.asarray(result.faces, dtype=np.int64) + 1, 3, axis=1)
        obj_path = folder / f"{stem}.obj"
        written = [obj_path]
        with atomic_write(obj_path) as handle:
            handle.write(f"# facerecon mesh '{result.name}': mm, frame '{self.params.frame}' "
                         "(y-up: x right, y up, camera looking along -z; camera: OpenCV x right, y down, z forward)\n")
            if self.params.maps:
                handle.write(f"mtllib {stem}.mtl\n")
            np.savetxt(handle, vertices, fmt="v %.6f %.6f %.6f")
            np.savetxt(handle, np.asarray(result.uvs, dtype=np.float64), fmt="vt %.6f %.6f")
            np.savetxt(handle, normals, fmt="vn %.6f %.6f %.6f")
            if self.params.maps:
                handle.write(f"usemtl {MATERIAL}\n")
            np.savetxt(handle, index, fmt="f %d/%d/%d %d/%d/%d %d/%d/%d")
        if self.params.maps:
            mtl_path = folder / f"{stem}.mtl"
            with atomic_write(mtl_path) as handle:
                handle.write(_mtl_text(result))
            written += [mtl_path, *write_maps(result, folder)]
        return written
