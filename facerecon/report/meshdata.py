"""A mesh file packed small enough to embed in a report page, for its 3D view.

:func:`mesh_payload` reads a GLB, PLY or OBJ file with trimesh and packs it for the viewer
(``viewer/src/viewer.js``): vertex positions centred and quantised to int16 per axis, texture
coordinates as uint16, vertex colours as uint8 (when the file has colours and no texture), and
triangle indices as uint16 (fewer than 65,536 vertices) or uint32, one after the other at 4-byte
boundaries, gzip-compressed and base64-encoded; the texture goes along as a JPEG data URI. A
bfm-lite face (53,644 vertices, 100k triangles, 256² texture) takes about 1.3 MB of page, a
third of its GLB file. Normals are recomputed by the viewer.
"""
from __future__ import annotations

import base64
import gzip
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["mesh_payload", "load_mesh"]

_MAX_TEXTURE = 1024


def load_mesh(path: Path) -> Any:
    """The mesh of a file as one ``trimesh.Trimesh`` (a scene's largest geometry, in the
    scene's frame), or None when the file holds no triangles."""
    import trimesh

    with warnings.catch_warnings():  # trimesh warns about NaN while guessing texture transparency
        warnings.simplefilter("ignore", RuntimeWarning)
        loaded = trimesh.load(str(path), process=False, maintain_order=True)
    if isinstance(loaded, trimesh.Scene):
        meshes = [m for m in loaded.dump() if isinstance(m, trimesh.Trimesh)]
        loaded = max(meshes, key=lambda m: len(m.faces)) if meshes else None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        return None
    return loaded


def _texture(mesh: Any) -> tuple[np.ndarray | None, Any]:
    """(uvs (V, 2), PIL image) of a textured mesh, else (None, None)."""
    visual = mesh.visual
    if getattr(visual, "kind", None) != "texture" or getattr(visual, "uv", None) is None:
        return None, None
    material = visual.material
    image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
    if image is None or len(visual.uv) != len(mesh.vertices):
        return None, None
    return np.asarray(visual.uv, np.float64), image


def _jpeg_uri(image: Any) -> str:
    image = image.convert("RGB")
    if max(image.size) > _MAX_TEXTURE:
        image.thumbnail((_MAX_TEXTURE, _MAX_TEXTURE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def mesh_payload(path: Path) -> dict[str, Any] | None:
    """The packed mesh of ``path`` (see module doc): ``{"geometry": base64, "layout": {...},
    "texture": data URI or None}``; None when the file cannot be read as a triangle mesh."""
    try:
        mesh = load_mesh(Path(path))
    except Exception:  # noqa: BLE001 - an unreadable mesh costs the 3D view, not the report
        return None
    if mesh is None:
        return None
    vertices = np.asarray(mesh.vertices, np.float64)
    centre = (vertices.min(0) + vertices.max(0)) / 2
    half = np.maximum(np.abs(vertices - centre).max(0), 1e-9)
    chunks: list[bytes] = []
    offset = 0

    def add(array: np.ndarray) -> int:
        nonlocal offset
        data = np.ascontiguousarray(array).tobytes()
        data += b"\0" * (-len(data) % 4)
        start, offset = offset, offset + len(data)
        chunks.append(data)
        return start

    layout: dict[str, Any] = {"vertices": len(vertices), "triangles": len(mesh.faces), "half": half.tolist(),
                              "uvs": None, "colors": None}
    layout["positions"] = add(np.round((vertices - centre) / half * 32767).astype("<i2"))
    uvs, image = _texture(mesh)
    texture = None
    if uvs is not None:
        layout["uvs"] = add(np.round(np.clip(uvs, 0, 1) * 65535).astype("<u2"))
        texture = _jpeg_uri(image)
    elif getattr(mesh.visual, "kind", None) == "vertex":
        layout["colors"] = add(np.asarray(mesh.visual.vertex_colors)[:, :3].astype(np.uint8))
    index_type = "<u2" if len(vertices) <= 65536 else "<u4"
    layout["index_bytes"] = 2 if index_type == "<u2" else 4
    layout["faces"] = add(np.asarray(mesh.faces).astype(index_type))
    packed = gzip.compress(b"".join(chunks), compresslevel=6, mtime=0)
    return {"geometry": base64.b64encode(packed).decode("ascii"), "layout": layout, "texture": texture}
