"""Binary glTF 2.0 export with a PBR material and the photo's camera.

Frame: glTF is y up, right-handed, and its cameras look along -z, so the OpenCV camera-frame
vertices and normals are converted by flipping y and z (a rotation, winding kept) and scaled to
metres (``unit_scale``). The photo's camera is then a perspective camera node at the origin with
no rotation: ``yfov = 2·atan(height / (2·focal))``, ``aspectRatio = width / height`` (principal
point at the image centre, as glTF assumes). Opening the file in Blender and looking through that
camera at a ``width x height`` resolution shows the photo's view.

Material (``pbrMetallicRoughness``):

- ``baseColorTexture``: the diffuse albedo, sRGB-encoded;
- ``metallicRoughnessTexture``: G = roughness (``roughness='ggx'``: r**0.25, since redner's
  Blinn-Phong roughness r is Beckmann alpha² and glTF stores sqrt(alpha) of a GGX lobe, a close
  match; ``'raw'``: r), B = metallic = 0, R unused (0); ``metallicFactor`` 0;
- ``KHR_materials_specular``: ``specularColorTexture`` = the specular albedo (sRGB-encoded, the same
  image as specular.png) with ``specularColorFactor`` = 25 = 1/0.04. glTF's dielectric F0 is
  ``min(0.04 · specularColorFactor · specularColorTexture, 1)`` for the default IOR 1.5, so F0
  equals our Schlick specular albedo exactly (trimesh has no writer for this extension; it is added
  to the tree through trimesh's ``buffer_postprocessor`` hook). Viewers without the extension fall
  back to F0 = 0.04.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from trimesh.exchange.gltf import export_glb

from facerecon.interfaces import Exporter, FaceResult
from facerecon.io import atomic_write

from .frames import OPENCV_TO_YUP, yfov
from .maps import encode

__all__ = ["GlbExporter", "DIELECTRIC_F0", "roughness_texture"]

#: F0 of glTF's default dielectric (IOR 1.5), which KHR_materials_specular scales.
DIELECTRIC_F0 = 0.04
_ZNEAR_MM = 10.0


def roughness_texture(roughness: np.ndarray, mapping: str) -> np.ndarray:
    """(T, T, 1) roughness -> (T, T, 3) uint8 glTF metallicRoughness texture (G rough, B metal 0)."""
    values = np.clip(roughness[..., 0], 0.0, 1.0)
    if mapping == "ggx":
        values = values ** 0.25
    texture = np.zeros((*values.shape, 3), dtype=np.uint8)
    texture[..., 1] = encode(values, srgb=False)
    return texture


def _png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


class GlbExporter(Exporter):
    """Writes ``<filename>.glb`` (see module doc for frame, camera and material)."""

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Build the trimesh scene, add camera and specular extension, write it; return the path."""
        params = self.params
        vertices = np.asarray(result.vertices, dtype=np.float64) @ OPENCV_TO_YUP * params.unit_scale
        normals = np.asarray(result.normals, dtype=np.float64) @ OPENCV_TO_YUP
        material = trimesh.visual.material.PBRMaterial(
            name="face",
            baseColorTexture=Image.fromarray(encode(result.diffuse)),
            metallicRoughnessTexture=Image.fromarray(roughness_texture(result.roughness, params.roughness)),
            metallicFactor=0.0,
            roughnessFactor=1.0,
            doubleSided=True,
        )
        mesh = trimesh.Trimesh(
            vertices=vertices,
            faces=np.asarray(result.faces, dtype=np.int64),
            vertex_normals=normals,
            visual=trimesh.visual.TextureVisuals(uv=np.asarray(result.uvs, np.float64), material=material),
            process=False,
        )
        scene = trimesh.Scene()
        scene.add_geometry(mesh, geom_name="face", node_name="face")
        specular_png = _png_bytes(encode(result.specular)) if params.specular else None

        def add_specular(buffer_items, tree):
            key = "facerecon_specular_color"
            data = specular_png + b"\0" * (-len(specular_png) % 4)
            view = len(buffer_items)
            buffer_items[key] = data
            tree["images"].append({"bufferView": view, "mimeType": "image/png"})
            tree["textures"].append({"source": len(tree["images"]) - 1})
            tree["materials"][0].setdefault("extensions", {})["KHR_materials_specular"] = {
                "specularFactor": 1.0,
                "specularColorFactor": [1.0 / DIELECTRIC_F0] * 3,
                "specularColorTexture": {"index": len(tree["textures"]) - 1},
            }
            used = set(tree.get("extensionsUsed", [])) | {"KHR_materials_specular"}
            tree["extensionsUsed"] = sorted(used)

        def add_camera(tree):
            height, width = result.image.shape[:2]
            tree["cameras"] = [{
                "name": "photo",
                "type": "perspective",
                "perspective": {
                    "yfov": yfov(result.focal, height),
                    "aspectRatio": width / height,
                    "znear": _ZNEAR_MM * params.unit_scale,
                },
            }]
            tree["nodes"].append({"name": "photo_camera", "camera": 0})
            tree["scenes"][0]["nodes"].append(len(tree["nodes"]) - 1)

        data = export_glb(
            scene,
            include_normals=True,
            tree_postprocessor=add_camera if params.camera else None,
            buffer_postprocessor=add_specular if params.specular else None,
        )
        path = Path(folder) / f"{params.filename}.glb"
        with atomic_write(path, "wb") as handle:
            handle.write(data)
        return [path]
