"""Photo backgrounds without faces: random crops of images that scikit-image ships."""
from __future__ import annotations

import functools

import cv2
import numpy as np

__all__ = ["background"]


@functools.lru_cache(maxsize=None)  # a few images, each decoded once instead of once per face
def _load(name: str) -> np.ndarray:
    """The image ``name`` of ``skimage.data`` as read-only (H, W, 3) uint8."""
    from skimage import data

    image = np.asarray(getattr(data, name)())
    if image.dtype != np.uint8:
        image = (np.clip(image.astype(np.float64) / max(float(image.max()), 1e-9), 0, 1) * 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = np.ascontiguousarray(image[..., :3])
    image.flags.writeable = False
    return image


def background(rng: np.random.Generator, names: list[str] | tuple[str, ...], width: int, height: int) -> np.ndarray:
    """A random crop (40–100 % of the shorter side, random place, maybe mirrored) of a random image
    of ``names``, resized to (height, width, 3) uint8 sRGB; grey images get a random colour tint."""
    image = _load(names[int(rng.integers(len(names)))])
    h, w = image.shape[:2]
    aspect = width / height
    side = rng.uniform(0.4, 1.0) * min(h, w / aspect)
    crop_h, crop_w = max(8, int(side)), max(8, int(side * aspect))
    y0, x0 = int(rng.integers(0, h - crop_h + 1)), int(rng.integers(0, w - crop_w + 1))
    crop = image[y0:y0 + crop_h, x0:x0 + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    interpolation = cv2.INTER_AREA if crop_w > width else cv2.INTER_CUBIC
    crop = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=interpolation)
    if np.ptp(crop.astype(np.int16), axis=2).max() == 0:  # grey: tint it
        tint = rng.uniform(0.6, 1.0, 3)
        crop = np.clip(crop.astype(np.float32) * tint / tint.max(), 0, 255).astype(np.uint8)
    return crop
