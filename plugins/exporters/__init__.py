"""Built-in exporters (registration only: light, no torch import).

Each exporter writes part of a :class:`facerecon.interfaces.FaceResult` into the face's output
folder, atomically. Colour maps are stored sRGB-encoded (as viewers expect), roughness as linear
grey; geometry is in mm, in the photo's camera frame turned y up (OBJ, PLY: ``frame: y-up`` by
default, ``frame: camera`` keeps the OpenCV frame of params.json; GLB: glTF's y-up frame in metres,
see :mod:`plugins.exporters.glb`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from facerecon import hookimpl, param

Frame = Literal["camera", "y-up"]
_FRAME_DOC = (
    "Axes of the written vertices: 'y-up' turns the photo's camera frame half a turn about x (x right, "
    "y up, the camera at the origin looking along -z, as glTF and most viewers assume), so a face "
    "looking at the camera opens upright, in the model's own axes, placed by its pose (the faces of one "
    "photo keep their arrangement); 'camera' keeps the OpenCV camera frame (x right, y down, z "
    "forward; matches params.json)."
)


@dataclass(frozen=True)
class ObjParams:
    """Textured Wavefront OBJ: <filename>.obj + <filename>.mtl + diffuse/specular/roughness PNGs."""

    filename: str = param("mesh", "File stem of the .obj and .mtl files.")
    maps: bool = param(True, "Write the .mtl and the diffuse.png, specular.png and roughness.png maps.")
    frame: Frame = param("y-up", _FRAME_DOC)


@dataclass(frozen=True)
class GlbParams:
    """Binary glTF 2.0 with a PBR metallic-roughness material and the photo's camera."""

    filename: str = param("mesh", "File stem of the .glb file.")
    unit_scale: float = param(0.001, "Metres per model unit (mm): glTF lengths are metres.", gt=0)
    roughness: Literal["ggx", "raw"] = param(
        "ggx",
        "How roughness r enters the metallicRoughness texture: 'ggx' stores r**0.25 (redner's "
        "Blinn-Phong r is Beckmann alpha², glTF stores sqrt(alpha)); 'raw' stores r unchanged.",
    )
    specular: bool = param(
        True, "Store the specular albedo through KHR_materials_specular (specularColorTexture)."
    )
    camera: bool = param(True, "Add the photo's pinhole camera as a glTF perspective camera node.")


@dataclass(frozen=True)
class PlyParams:
    """Binary PLY with per-vertex sRGB colours sampled from the diffuse map."""

    filename: str = param("mesh", "File stem of the .ply file.")
    frame: Frame = param("y-up", _FRAME_DOC)


@dataclass(frozen=True)
class ParamsJsonParams:
    """params.json: coefficients, pose, camera, light, conventions and landmarks."""

    filename: str = param("params", "File stem of the .json file.")


@dataclass(frozen=True)
class LandmarksParams:
    """landmarks.json: detected and fitted 68 landmarks in pixels and their mean distance."""

    filename: str = param("landmarks", "File stem of the .json file.")


@dataclass(frozen=True)
class EnvmapParams:
    """envmap.png: the lat-long environment map, tone-mapped to sRGB."""

    filename: str = param("envmap", "File stem of the written files.")
    exposure: float = param(0.0, "Exposure in stops applied before tone mapping (x 2**exposure).", ge=-64, le=64)
    tonemap: Literal["reinhard", "clip"] = param(
        "reinhard", "Tone curve: 'reinhard' x/(1+x) keeps highlights, 'clip' clips at 1."
    )
    save_npy: bool = param(False, "Also write the linear float32 map as <filename>.npy.")


@dataclass(frozen=True)
class RenderStripParams:
    """render.png: input | overlay | render | diffuse | specular | roughness | illumination."""

    filename: str = param("render", "File stem of the .png file.")
    panel_height: Optional[int] = param(
        256, "Height of every panel in pixels (aspect kept); None uses the input image height.", ge=16, le=8192
    )
    overlay_opacity: float = param(1.0, "Opacity of the render over the photo in the overlay panel.", ge=0, le=1)
    labels: bool = param(True, "Write a small label on each panel.")
    landmark_radius: int = param(2, "Radius of the landmark dots in panel pixels (0 hides them).", ge=0, le=100)
    zoom: Optional[float] = param(
        1.8, "Show the photo panels cropped to a square this many times the landmarks' extent; None shows the whole photo.",
        gt=0,
    )


@dataclass(frozen=True)
class LossPlotParams:
    """loss.png: one subplot per optimisation stage."""

    filename: str = param("loss", "File stem of the .png file.")
    log_scale: bool = param(True, "Logarithmic y axis for stages whose losses are all positive.")
    dpi: int = param(100, "Resolution of the figure in dots per inch.", ge=10, le=1200)


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in exporters."""
    register = registry.register
    register("exporter", "obj", params=ObjParams, factory="plugins.exporters.obj:ObjExporter",
             summary="Wavefront OBJ + MTL (map_Kd, map_Ks, map_Pr) + PNG reflectance maps")
    register("exporter", "glb", params=GlbParams, factory="plugins.exporters.glb:GlbExporter",
             summary="glTF 2.0 binary: PBR material, KHR_materials_specular, photo camera")
    register("exporter", "ply", params=PlyParams, factory="plugins.exporters.ply:PlyExporter",
             summary="binary PLY with per-vertex sRGB colours from the diffuse map")
    register("exporter", "params", params=ParamsJsonParams,
             factory="plugins.exporters.params_json:ParamsExporter",
             summary="params.json: coefficients, pose, camera K/extrinsics, light, conventions")
    register("exporter", "landmarks", params=LandmarksParams,
             factory="plugins.exporters.params_json:LandmarksExporter",
             summary="landmarks.json: detected and fitted 68 points and mean pixel error")
    register("exporter", "envmap", params=EnvmapParams, factory="plugins.exporters.envmap:EnvmapExporter",
             summary="envmap.png (tone-mapped sRGB), optionally the linear .npy")
    register("exporter", "render-strip", params=RenderStripParams,
             factory="plugins.exporters.render_strip:RenderStripExporter",
             summary="render.png: labelled strip input | overlay | render | maps | illumination")
    register("exporter", "loss-plot", params=LossPlotParams,
             factory="plugins.exporters.loss_plot:LossPlotExporter",
             summary="loss.png: loss curves per stage (matplotlib)")
