"""The ``render.png`` summary strip.

Panels left to right, each scaled to ``panel_height`` (aspect kept) and labelled; a panel whose
data is missing is skipped:

``input`` | ``overlay`` (``renders['overlay']``, else ``renders['render']`` blended over the photo
where ``renders['mask']`` covers it; fitted landmarks in green, detected in red) | ``render`` |
``diffuse`` | ``specular`` | ``roughness`` (UV maps) | ``illumination``
(``renders['diffuse_shading']``). Linear images are sRGB-encoded for display (roughness: linear grey).
The strip's sidecar ``<filename>.panels.json`` names each panel's place
(:mod:`facerecon.report.strips`), so reports cut the input, overlay and render panels out of it.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facerecon.imaging import linear_to_srgb
from facerecon.interfaces import Exporter, FaceResult
from facerecon.report.strips import write_strip

from .maps import encode

__all__ = ["RenderStripExporter", "compose_overlay", "strip_panels"]

_GREEN, _RED = (0, 255, 0), (255, 0, 0)


def _resize(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, int(round(image.shape[1] * height / image.shape[0])))
    shrink = height < image.shape[0]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return resized.reshape(height, width, -1)


def _rgb(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1) or (H, W, 3) -> (H, W, 3)."""
    image = image.reshape(*image.shape[:2], -1)
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3]


def compose_overlay(photo: np.ndarray, render: np.ndarray, mask: np.ndarray, opacity: float) -> np.ndarray:
    """Blend a linear render over an sRGB photo where the mask covers it.

    Args:
        photo: (H, W, 3) uint8 sRGB.
        render: (H', W', 3) linear float (resized to the photo if needed).
        mask: (H', W') or (H', W', 1) coverage in [0, 1].
        opacity: render opacity.
    Returns:
        (H, W, 3) uint8 sRGB.
    """
    height, width = photo.shape[:2]
    render = cv2.resize(np.asarray(render, np.float32), (width, height)).reshape(height, width, 3)
    mask = cv2.resize(np.asarray(mask, np.float32).reshape(mask.shape[:2]), (width, height))
    alpha = np.clip(mask, 0.0, 1.0)[..., None] * opacity
    foreground = linear_to_srgb(np.clip(render, 0.0, 1.0))
    blended = alpha * foreground + (1.0 - alpha) * (photo.astype(np.float32) / 255.0)
    return np.round(np.clip(blended, 0.0, 1.0) * 255.0).astype(np.uint8)


def _draw_points(panel: np.ndarray, points: np.ndarray, scale: float, color, radius: int) -> None:
    shift = 4  # sub-pixel precision of cv2 drawing: coordinates in 1/16 pixel
    for x, y in np.asarray(points, dtype=np.float64):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        # pixel (0, 0) covers [0, 1)² in results, while cv2 puts pixel centres on integers
        centre = (int(round((x * scale - 0.5) * 16)), int(round((y * scale - 0.5) * 16)))
        cv2.circle(panel, centre, radius * 16, color, -1, cv2.LINE_AA, shift)


def _label(panel: np.ndarray, text: str) -> None:
    scale = max(0.35, panel.shape[0] / 600.0)
    (_, text_height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    origin = (4, 4 + text_height)
    cv2.putText(panel, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(panel, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def face_window(result: FaceResult, margin: float) -> tuple[int, int, int] | None:
    """Square window ``(x0, y0, side)`` in photo pixels around the landmarks, or None without any."""
    points = [p for p in (result.landmarks_detected, result.landmarks_fitted) if p is not None]
    if not points:
        return None
    allpoints = np.concatenate([np.asarray(p, np.float64) for p in points])
    lo, hi = allpoints.min(0), allpoints.max(0)
    side = max(int(round(float((hi - lo).max()) * margin)), 16)
    centre = (lo + hi) / 2
    return int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2)), side


def _cut(image: np.ndarray, window: tuple[int, int, int] | None) -> np.ndarray:
    """The window of a photo-frame image, padded with black where it leaves the image."""
    if window is None:
        return image
    x0, y0, side = window
    pad = [(max(0, -y0), max(0, y0 + side - image.shape[0])), (max(0, -x0), max(0, x0 + side - image.shape[1]))]
    pad += [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image, pad)
    y, x = y0 + pad[0][0], x0 + pad[1][0]
    return padded[y:y + side, x:x + side]


def strip_panels(
    result: FaceResult, height: int, opacity: float, radius: int, window: tuple[int, int, int] | None = None
) -> list[tuple[str, np.ndarray]]:
    """The available panels as ``(label, (height, w, 3) uint8)``, left to right, unlabelled.

    Photo-frame panels (input, overlay, render, illumination) show ``window`` of the photo when
    given (see :func:`face_window`); the UV maps are shown whole.
    """
    renders = result.renders
    image = np.asarray(result.image)

    def photo(array: np.ndarray) -> np.ndarray:
        """Photo-frame image at the photo's resolution, then cut to the window."""
        if array.shape[:2] != image.shape[:2]:
            array = cv2.resize(array, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        return _cut(array, window)

    panels = [("input", _cut(image, window))]
    overlay = None
    if "overlay" in renders:
        overlay = encode(renders["overlay"])
    elif "render" in renders and "mask" in renders:
        overlay = compose_overlay(image, renders["render"], renders["mask"], opacity)
    if overlay is not None:
        overlay = photo(overlay)
        view_height = overlay.shape[0]
        overlay = np.ascontiguousarray(_resize(overlay, height))
        if radius > 0:
            point_scale = height / view_height
            offset = np.array(window[:2], np.float64) if window is not None else np.zeros(2)
            for points, color in ((result.landmarks_fitted, _GREEN), (result.landmarks_detected, _RED)):
                if points is not None:
                    _draw_points(overlay, np.asarray(points) - offset, point_scale, color, radius)
        panels.append(("overlay", overlay))
    if "render" in renders:
        panels.append(("render", photo(encode(renders["render"]))))
    for name, texture, srgb in (("diffuse", result.diffuse, True), ("specular", result.specular, True),
                                ("roughness", result.roughness, False)):
        if texture is not None:
            panels.append((name, encode(texture, srgb)))
    illumination = renders.get("illumination", renders.get("diffuse_shading"))
    if illumination is not None:
        panels.append(("illumination", photo(encode(illumination))))
    return [(label, np.ascontiguousarray(_rgb(_resize(_rgb(panel), height)))) for label, panel in panels]


class RenderStripExporter(Exporter):
    """Writes ``<filename>.png``: the labelled panels side by side, and its ``.panels.json``
    sidecar (see module doc)."""

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write the strip and its sidecar; return their paths."""
        height = self.params.panel_height or int(result.image.shape[0])
        window = face_window(result, self.params.zoom) if self.params.zoom else None
        panels = strip_panels(result, height, self.params.overlay_opacity, self.params.landmark_radius, window)
        if self.params.labels:
            for label, panel in panels:
                _label(panel, label)
        return write_strip(Path(folder) / f"{self.params.filename}.png", panels)
