"""Drawing random ground-truth faces from a morphable model's priors.

:func:`draw_truth` draws everything a photo of a face is made of — identity and expression
coefficients, head pose, camera, a sun and an ambient light, and a painted diffuse albedo map —
as a :class:`~facerecon.evaluation.truth.FaceTruth` (without ``alpha``/``region``, which the
renderer that turns it into a photo fills). Any renderer can use it: the ``synthetic-faces``
dataset renders with Mitsuba's own BSDF, a training task may use facerecon's renderers.

The albedo map is painted in the model's UV layout (:func:`paint_albedo`): a skin tone from a
light-to-dark palette with smooth blotches and reddened cheeks, darker brows, red lips, eyes
with sclera, iris, pupil and lash lines, and nostrils, placed through the UVs of the model's
landmark vertices, so any model with UVs and iBUG-68 landmark vertices can be painted; where
the model's own prior albedo is far darker than its skin (a mouth cavity) the prior is kept.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from ..geometry import apply_pose
from .settings import DrawSettings
from .truth import FaceTruth

__all__ = ["draw_truth", "draw_light", "paint_albedo"]

#: Diffuse albedo (linear RGB) of the lightest, a medium and the darkest skin of the palette.
_SKIN = np.array([[0.62, 0.40, 0.30], [0.40, 0.24, 0.16], [0.13, 0.075, 0.05]])
#: Hair colours for the brows (linear RGB): black, dark brown, brown, blond.
_HAIR = np.array([[0.02, 0.017, 0.015], [0.05, 0.03, 0.02], [0.12, 0.07, 0.04], [0.35, 0.25, 0.14]])
#: Iris colours (linear RGB): brown, hazel, blue, green.
_IRIS = np.array([[0.06, 0.03, 0.015], [0.12, 0.08, 0.03], [0.06, 0.09, 0.14], [0.07, 0.10, 0.06]])
_SCLERA = np.array([0.55, 0.50, 0.47])
_REC709 = np.array([0.2126, 0.7152, 0.0722])
#: Nominal face width (mm) that ``DrawSettings.face_px`` refers to.
FACE_WIDTH_MM = 150.0


def _uniform(rng: np.random.Generator, bounds) -> float:
    low, high = bounds
    return float(rng.uniform(low, high))


def _unit_luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb / float(rgb @ _REC709)


def draw_light(rng: np.random.Generator, settings: DrawSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sun and an ambient light: ``(sun_direction (3,), sun_irradiance (3,), ambient_radiance (3,))``.

    The sun lies within ``sun_angle_deg`` of the direction towards the camera (uniform over that
    cap), above the head three times out of four; its tint goes from neutral to warm, the
    ambient light's from neutral to bluish.
    """
    cos_max = math.cos(math.radians(settings.sun_angle_deg))
    cos_theta = rng.uniform(cos_max, 1.0)
    sin_theta = math.sqrt(max(0.0, 1.0 - cos_theta ** 2))
    phi = rng.uniform(0.0, 2.0 * math.pi)
    direction = np.array([sin_theta * math.cos(phi), sin_theta * math.sin(phi), -cos_theta])
    if direction[1] > 0 and rng.random() < 0.75:  # camera y points down: light from above is y < 0
        direction[1] = -direction[1]
    warm = rng.random()
    sun = _unit_luminance(np.array([1.0, 0.9 + 0.1 * (1 - warm), 0.78 + 0.22 * (1 - warm)]))
    blue = rng.random()
    sky = _unit_luminance(np.array([0.9 + 0.1 * (1 - blue), 0.95 + 0.05 * (1 - blue), 1.0]))
    return direction, sun * _uniform(rng, settings.sun_irradiance), sky * _uniform(rng, settings.ambient_radiance)


def _skin_colour(rng: np.random.Generator, tone: float) -> np.ndarray:
    """Linear RGB skin albedo at ``tone`` in [0, 1] along the palette (log-linear), jittered."""
    position = tone * (len(_SKIN) - 1)
    i = min(int(position), len(_SKIN) - 2)
    t = position - i
    colour = np.exp((1 - t) * np.log(_SKIN[i]) + t * np.log(_SKIN[i + 1]))
    return colour * np.exp(rng.normal(0.0, 0.04, 3))


class _Canvas:
    """A UV map being painted: feature masks drawn at sub-texel precision, softened, blended."""

    SHIFT = 4  # cv2 fixed-point bits

    def __init__(self, base: np.ndarray, uv_points: np.ndarray, texels_per_mm: float) -> None:
        self.map = base
        self.size = base.shape[0]
        self.points = uv_points  # (68, 2) texel coordinates of the landmarks
        self.texels_per_mm = texels_per_mm

    def _fixed(self, points: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(points) * (1 << self.SHIFT)).astype(np.int32)

    def _draw(self, draw) -> np.ndarray:
        """A float mask in [0, 1] drawn by ``draw(uint8 canvas)`` (cv2 antialiases 8-bit images only)."""
        mask = np.zeros((self.size, self.size), np.uint8)
        draw(mask)
        return mask.astype(np.float32) / 255.0

    def polygon(self, indices) -> np.ndarray:
        """Mask of the polygon through the landmarks ``indices``."""
        corners = self._fixed(self.points[list(indices)])
        return self._draw(lambda m: cv2.fillPoly(m, [corners], 255, cv2.LINE_AA, self.SHIFT))

    def line(self, points: np.ndarray, width_mm: float) -> np.ndarray:
        """Mask of a polyline through ``points`` (texels), ``width_mm`` wide."""
        width = max(1, int(round(width_mm * self.texels_per_mm)))
        fixed = self._fixed(points)
        return self._draw(lambda m: cv2.polylines(m, [fixed], False, 255, width, cv2.LINE_AA, self.SHIFT))

    def disc(self, centre: np.ndarray, radius_mm: float) -> np.ndarray:
        """Mask of a disc of ``radius_mm`` around ``centre`` (texels)."""
        radius = max(1, int(round(radius_mm * self.texels_per_mm * (1 << self.SHIFT))))
        middle = tuple(int(v) for v in self._fixed(centre))
        return self._draw(lambda m: cv2.circle(m, middle, radius, 255, -1, cv2.LINE_AA, self.SHIFT))

    def blend(self, mask: np.ndarray, colour: np.ndarray, softness_mm: float, opacity: float = 1.0) -> None:
        """Paint ``colour`` through ``mask``, its edges blurred by ``softness_mm``, at ``opacity``.

        Only the mask's bounding box, widened by the blur's reach, changes: a feature covers a small
        part of the map, and blending the whole map for each of them made painting the slowest step
        of drawing a face.
        """
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if not len(rows):
            return
        sigma = softness_mm * self.texels_per_mm
        # cv2 truncates a float image's Gaussian at 4 sigma: past that reach the blurred mask is 0,
        # and a window that keeps that reach of zeros inside its edges blurs as the whole map does.
        reach = int(math.ceil(4.0 * sigma)) + 2 if sigma > 0.3 else 0
        top, bottom = max(rows.min() - reach, 0), min(rows.max() + reach + 1, self.size)
        left, right = max(cols.min() - reach, 0), min(cols.max() + reach + 1, self.size)
        window = mask[top:bottom, left:right]
        if sigma > 0.3:
            window = cv2.GaussianBlur(window, (0, 0), sigma)
        weight = (np.clip(window, 0.0, 1.0) * opacity)[..., None]
        part = self.map[top:bottom, left:right]
        blended = part * (1.0 - weight) + np.broadcast_to(colour, part.shape) * weight
        self.map = self.map.astype(np.result_type(self.map, blended), copy=False)  # a float64 colour widens it
        self.map[top:bottom, left:right] = blended


def paint_albedo(uvs: np.ndarray, landmark_vertices: np.ndarray, shape: np.ndarray, rng: np.random.Generator,
                 size: int, tone: float) -> np.ndarray:
    """Paint a diffuse albedo map (linear RGB) in a model's UV layout.

    Args:
        uvs: (V, 2) texture coordinates (u right, v up; row 0 of the map is v = 1).
        landmark_vertices: (68,) iBUG-68 landmark vertex indices.
        shape: (V, 3) a model-frame shape in mm (sets the millimetres per texel).
        rng: random generator; size: T, the map's side; tone: skin tone in [0, 1].
    Returns:
        (T, T, 3) float32 map in [0, 1].
    """
    points = np.stack([uvs[landmark_vertices, 0] * size - 0.5, (1.0 - uvs[landmark_vertices, 1]) * size - 0.5], 1)
    eye_mm = np.linalg.norm(shape[landmark_vertices[36]] - shape[landmark_vertices[45]])
    texels_per_mm = float(np.linalg.norm(points[36] - points[45]) / max(eye_mm, 1e-6))

    skin = _skin_colour(rng, tone)
    blotches = cv2.resize(rng.normal(0.0, 1.0, (8, 8)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    grain = cv2.resize(rng.normal(0.0, 1.0, (96, 96)).astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    base = skin[None, None, :] * np.exp(0.08 * blotches + 0.025 * grain)[..., None]
    canvas = _Canvas(base.astype(np.float32), points, texels_per_mm)

    redness = skin * np.array([1.05, 0.8, 0.8])
    for a, b in ((2, 31), (14, 35)):  # cheeks: between the jaw contour and the nose wings
        canvas.blend(canvas.disc(0.5 * (points[a] + points[b]), 12.0), redness, 8.0, rng.uniform(0.3, 0.7))
    canvas.blend(canvas.disc(points[30], 8.0), redness, 5.0, rng.uniform(0.2, 0.5))

    hair = np.minimum(_HAIR[rng.integers(len(_HAIR))], skin * 0.5)
    brow_mm = rng.uniform(3.5, 6.0)
    for brow in ((17, 18, 19, 20, 21), (22, 23, 24, 25, 26)):
        canvas.blend(canvas.line(points[list(brow)], brow_mm), hair, 0.8, rng.uniform(0.75, 0.95))

    lips = skin * np.array([0.95, 0.55, 0.6]) * rng.uniform(0.75, 1.0)
    canvas.blend(canvas.polygon(range(48, 60)), lips, 0.7)
    canvas.blend(canvas.polygon(range(60, 68)), np.array([0.08, 0.03, 0.03]), 0.4)

    iris = _IRIS[rng.integers(len(_IRIS))]
    for eye in (range(36, 42), range(42, 48)):
        eye = list(eye)
        opening = canvas.polygon(eye)
        canvas.blend(opening, _SCLERA, 0.3)
        centre = points[eye].mean(0)
        canvas.blend(canvas.disc(centre, 5.5) * opening, iris, 0.3)
        canvas.blend(canvas.disc(centre, 2.0) * opening, np.array([0.01, 0.01, 0.01]), 0.2)
        upper, lower = points[eye[:4]], points[[eye[3], eye[4], eye[5], eye[0]]]
        canvas.blend(canvas.line(upper, 1.3), hair * 0.5, 0.3)
        canvas.blend(canvas.line(lower, 0.6), skin * 0.5, 0.3)

    for nostril in (32, 34):
        canvas.blend(canvas.disc(0.6 * points[nostril] + 0.4 * points[33], 2.5), skin * 0.3, 0.8)
    return np.clip(canvas.map, 0.0, 1.0).astype(np.float32)


def _keep_dark_prior(painted: np.ndarray, model) -> np.ndarray:
    """Keep the model's own albedo where its prior is much darker than its skin (a mouth cavity):
    a painted skin tone there would light up what a real photo shows dark."""
    with torch.no_grad():
        prior = model.textures(None, 1).diffuse[0].cpu().numpy().astype(np.float32)
    size = painted.shape[0]
    prior = cv2.resize(prior, (size, size), interpolation=cv2.INTER_LINEAR)
    luminance = prior @ _REC709
    weight = np.clip(1.0 - luminance / (0.5 * float(np.median(luminance))), 0.0, 1.0)[..., None]
    return (painted * (1.0 - weight) + prior * weight).astype(np.float32)


def draw_truth(model, rng: np.random.Generator, settings: DrawSettings = DrawSettings(), model_name: str = "") -> FaceTruth:
    """Draw one random face from ``model``'s priors with a random pose, camera, light and skin.

    Args:
        model: a :class:`~facerecon.interfaces.MorphableModel`.
        rng: numpy random generator (a fixed seed gives the same face).
        settings: the distributions.
        model_name: recorded in the truth (e.g. the model's registered name).
    Returns:
        A :class:`FaceTruth` whose ``alpha`` and ``region`` are None (no photo yet).
    """
    device = model.faces.device
    limit = settings.coefficient_limit

    def coefficients(count: int, std: float) -> np.ndarray:
        return np.clip(rng.normal(0.0, std, count), -limit, limit).astype(np.float32)

    identity = coefficients(model.n_identity, settings.identity_std)
    expression = coefficients(model.n_expression, settings.expression_std)

    def shape(ident: np.ndarray, expr: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return model.shape(torch.as_tensor(ident, device=device)[None], torch.as_tensor(expr, device=device)[None])

    own = shape(identity, expression)
    zeros_id, zeros_exp = np.zeros_like(identity), np.zeros_like(expression)
    mean = shape(zeros_id, zeros_exp)[0].cpu().numpy()

    pitch, yaw, roll = (math.radians(rng.uniform(-limit_deg, limit_deg))
                        for limit_deg in (settings.pitch_deg, settings.yaw_deg, settings.roll_deg))
    rotation = np.array([math.pi + pitch, yaw, roll], np.float32)
    width, height = settings.image_size
    focal = _uniform(rng, settings.focal) * width
    depth = focal * FACE_WIDTH_MM / _uniform(rng, settings.face_px)
    target = np.array([(rng.uniform(-1, 1) * settings.offset * width) * depth / focal,
                       (rng.uniform(-1, 1) * settings.offset * height) * depth / focal, depth])
    face_mask = model.face_mask.cpu().numpy().astype(bool)
    rotation_t = torch.as_tensor(rotation, device=device)[None]
    with torch.no_grad():  # place the face region's centroid (not the head's centre) at the target
        centre = apply_pose(own[:, face_mask].mean(1, keepdim=True), rotation_t, torch.zeros(1, 3, device=device))
    translation = (target - centre[0, 0].cpu().numpy()).astype(np.float32)
    with torch.no_grad():
        vertices = apply_pose(own, rotation_t, torch.as_tensor(translation, device=device)[None])[0].cpu().numpy()

    landmark_vertices = model.landmarks.cpu().numpy().astype(np.int64)
    uvs = model.uvs.cpu().numpy().astype(np.float32)
    diffuse = paint_albedo(uvs, landmark_vertices, mean, rng, settings.texture_size, _uniform(rng, settings.skin_tone))
    diffuse = _keep_dark_prior(diffuse, model)
    sun_direction, sun_irradiance, ambient = draw_light(rng, settings)
    return FaceTruth(
        model=model_name, identity=identity, expression=expression, rotation=rotation, translation=translation,
        focal=float(focal), image_size=(int(width), int(height)), vertices=vertices.astype(np.float32),
        faces=model.faces.cpu().numpy().astype(np.int32), uvs=uvs, landmark_vertices=landmark_vertices,
        face_mask=face_mask, diffuse=diffuse, specular=_uniform(rng, settings.specular),
        roughness=_uniform(rng, settings.roughness), sun_direction=sun_direction.astype(np.float32),
        sun_irradiance=sun_irradiance.astype(np.float32), ambient_radiance=ambient.astype(np.float32),
        baselines={"mean-face": mean.astype(np.float32),
                   "expression-only": shape(zeros_id, expression)[0].cpu().numpy().astype(np.float32)},
    )
