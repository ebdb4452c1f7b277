"""Turning a :class:`~facerecon.evaluation.FaceTruth` into a photo with Mitsuba 3, independently of
facerecon's own renderers and reflectance models.

The face is a Mitsuba ``principled`` BSDF (Disney diffuse and GGX specular, not facerecon's
Cook-Torrance) with the painted albedo as its base colour, lit by a ``directional`` sun and a
``constant`` ambient emitter (not a spherical-harmonics environment), path traced with
interreflections (``path``, ``max_depth`` 4) into an RGBA film. The render is composited over the
background in linear RGB with the film's alpha, sRGB-encoded, given sensor noise and quantised
to 8 bits. A model without a mouth interior would show the background through an open mouth: the
polygon of the inner-lip landmarks is backed by a dark throat instead. The camera is the OpenCV pinhole of
the truth (principal point at the image centre), set up by :func:`facerecon.mitsuba.sensor_dict`.
"""
from __future__ import annotations

import cv2
import numpy as np

from facerecon.evaluation.truth import FaceTruth
from facerecon.evaluation.metrics import vertex_normals
from facerecon.imaging import linear_to_srgb, srgb_to_linear

__all__ = ["render_photo"]

#: Mitsuba's principled ``specular`` parameter s gives a normal-incidence reflectance of 0.08·s.
_SPECULAR_TO_F0 = 0.08
#: Linear RGB behind an open mouth where the mesh has no mouth interior: a dark throat.
_MOUTH = np.array([0.03, 0.012, 0.01])


def _mesh(mi, truth: FaceTruth, bsdf):
    """A Mitsuba mesh of the truth's camera-frame vertices, smooth normals and texture coordinates."""
    props = mi.Properties()
    props["bsdf"] = bsdf
    vertices = np.asarray(truth.vertices, np.float32)
    faces = np.asarray(truth.faces, np.uint32)
    mesh = mi.Mesh("face", len(vertices), len(faces), props=props, has_vertex_normals=True, has_vertex_texcoords=True)
    params = mi.traverse(mesh)
    params["vertex_positions"] = mi.Float(vertices.ravel())
    params["vertex_normals"] = mi.Float(vertex_normals(vertices, truth.faces).astype(np.float32).ravel())
    # Mitsuba's bitmap row 0 is v = 0, ours v = 1.
    params["vertex_texcoords"] = mi.Float(np.stack([truth.uvs[:, 0], 1.0 - truth.uvs[:, 1]], 1).astype(np.float32).ravel())
    params["faces"] = mi.UInt32(faces.ravel())
    params.update()
    return mesh


def _mouth(truth: FaceTruth) -> np.ndarray:
    """(H, W) coverage in [0, 1] of the mouth opening: the polygon of the projected inner-lip landmarks."""
    width, height = truth.image_size
    mask = np.zeros((height, width), np.uint8)
    corners = np.round(truth.landmarks[60:68] * 16).astype(np.int32)
    cv2.fillPoly(mask, [corners], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float64) / 255.0


def render_photo(truth: FaceTruth, background: np.ndarray, spp: int, seed: int, noise: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render the truth over a background photo.

    Args:
        truth: the face; background: (H, W, 3) uint8 sRGB of the truth's image size.
        spp: samples per pixel; seed: Mitsuba's sampler seed.
        noise: standard deviation of the Gaussian sensor noise, in 8-bit levels.
        rng: draws the noise.
    Returns:
        ``(photo (H, W, 3) uint8 sRGB, alpha (H, W) float32, region (H, W) bool)``: the face region
        pixels are those whose pixel-centre ray first hits a triangle of the face region.
    """
    from facerecon.mitsuba import load_mitsuba, pixel_rays, sensor_dict

    backend = load_mitsuba("cpu")
    mi, dr = backend.mi, backend.dr
    width, height = truth.image_size
    bsdf = mi.load_dict({
        "type": "principled",
        "base_color": {"type": "bitmap", "data": mi.TensorXf(np.ascontiguousarray(truth.diffuse, np.float32)),
                       "raw": True, "filter_type": "bilinear", "wrap_mode": "clamp"},
        "roughness": float(truth.roughness),
        "specular": float(truth.specular) / _SPECULAR_TO_F0,
    })
    principal = (width / 2.0, height / 2.0)
    scene = mi.load_dict({
        "type": "scene",
        "integrator": {"type": "path", "max_depth": 4, "hide_emitters": True},
        "face": _mesh(mi, truth, bsdf),
        "sun": {"type": "directional", "direction": [float(-v) for v in truth.sun_direction],
                "irradiance": {"type": "rgb", "value": [float(v) for v in truth.sun_irradiance]}},
        "ambient": {"type": "constant", "radiance": {"type": "rgb", "value": [float(v) for v in truth.ambient_radiance]}},
        "sensor": sensor_dict(mi, width, height, truth.focal, principal, spp),
    })
    rgba = np.asarray(mi.render(scene, spp=spp, seed=seed), np.float64)
    alpha = np.clip(rgba[..., 3], 0.0, 1.0)
    behind = srgb_to_linear(background).astype(np.float64)
    mouth = _mouth(truth)[..., None]
    behind = behind * (1.0 - mouth) + _MOUTH * mouth
    # The film averages samples that missed (radiance 0): its colour is premultiplied by alpha.
    linear = rgba[..., :3] + (1.0 - alpha[..., None]) * behind
    srgb = linear_to_srgb(np.clip(linear, 0.0, 1.0)) * 255.0 + rng.normal(0.0, noise, linear.shape)
    photo = np.clip(np.rint(srgb), 0, 255).astype(np.uint8)

    face_triangles = np.asarray(truth.face_mask, bool)[truth.faces].all(1)
    with dr.suspend_grad():
        hit = scene.ray_intersect(pixel_rays(mi, dr, width, height, truth.focal, principal))
        triangle = dr.select(hit.is_valid(), mi.Int32(hit.prim_index), -1)
        triangle = np.asarray(triangle).reshape(height, width)
    region = (triangle >= 0) & face_triangles[np.maximum(triangle, 0)]
    return photo, alpha.astype(np.float32), region
