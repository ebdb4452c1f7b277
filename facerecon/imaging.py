"""Colour transfer curves and image file input/output.

Photos are sRGB-encoded; every component compares and renders in **linear** RGB (docs/architecture.md, Conventions).
:func:`srgb_to_linear` and :func:`linear_to_srgb` implement the exact IEC 61966-2-1 piecewise curve
on numpy arrays and torch tensors alike. NextFace approximates the decoding with ``image ** 2.2``;
the two differ by at most 0.0085 (linear, near c = 0.75), but in the shadows, where the exact curve
is linear, the power law is several times darker (c = 0.02: 0.00155 exact vs 0.00018).

Files are read with Pillow (:func:`read_image`: EXIF orientation applied, any mode turned into
8-bit RGB) and written atomically (:func:`write_image`).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FaceReconError
from .io import atomic_path

__all__ = [
    "ImageReadError",
    "srgb_to_linear",
    "linear_to_srgb",
    "to_uint8",
    "to_rgb8",
    "read_image",
    "write_image",
    "sample_map",
]

# IEC 61966-2-1 constants.
_OFFSET = 0.055
_EXPONENT = 2.4
_SLOPE = 12.92
_SRGB_KNEE = 0.04045
_LINEAR_KNEE = 0.0031308


class ImageReadError(FaceReconError, ValueError):
    """A file could not be read as an image (missing, corrupt, truncated or not an image)."""


def _is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _float_and_ops(x: Any):
    """``x`` as floats (integers scaled by their maximum) with matching ``where``/``clamp_min``."""
    if _is_tensor(x):
        import torch

        if not x.is_floating_point():
            x = x.float() / (255.0 if x.dtype == torch.uint8 else float(torch.iinfo(x.dtype).max))
        return x, torch.where, lambda t, low: t.clamp(min=low)
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max)
    elif not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    return x, np.where, np.maximum


def srgb_to_linear(x: Any) -> Any:
    """Decode sRGB values to linear RGB with the exact piecewise sRGB curve.

    ``c <= 0.04045 -> c / 12.92``, else ``((c + 0.055) / 1.055) ** 2.4``. Values above 1 follow the
    power branch, negative values the linear one. Differentiable for torch inputs (the power branch
    is evaluated on clamped input, so no NaN gradients leak through ``where``).

    Args:
        x: numpy array or torch tensor of any shape (e.g. (H, W, 3) or (B, H, W, 3)). Floats are taken
            as [0, 1]; integer inputs are scaled by their dtype maximum (uint8 / 255).
    Returns:
        Linear values, same shape and library; float dtype (float32 for integer input).
    """
    x, where, clamp_min = _float_and_ops(x)
    power = ((clamp_min(x, _SRGB_KNEE) + _OFFSET) / (1.0 + _OFFSET)) ** _EXPONENT
    return where(x <= _SRGB_KNEE, x / _SLOPE, power)


def linear_to_srgb(x: Any) -> Any:
    """Encode linear RGB to sRGB with the exact piecewise sRGB curve (inverse of :func:`srgb_to_linear`).

    ``l <= 0.0031308 -> 12.92 * l``, else ``1.055 * l ** (1 / 2.4) - 0.055``. Not clipped: clip or
    use :func:`to_uint8` before display. Differentiable for torch inputs (finite gradient at 0).

    Args:
        x: numpy array or torch tensor of any shape, linear values (integers scaled by their maximum).
    Returns:
        sRGB values, same shape and library; float dtype.
    """
    x, where, clamp_min = _float_and_ops(x)
    power = (1.0 + _OFFSET) * clamp_min(x, _LINEAR_KNEE) ** (1.0 / _EXPONENT) - _OFFSET
    return where(x <= _LINEAR_KNEE, x * _SLOPE, power)


def to_uint8(image: Any) -> np.ndarray:
    """An image as uint8: uint8 passes through, floats in [0, 1] are scaled, clipped and rounded.

    No colour conversion happens: give sRGB floats (use :func:`linear_to_srgb` first for linear
    renders). NaNs become 0. CPU torch tensors are accepted (``np.asarray``).

    Args:
        image: (H, W), (H, W, C) or any shape; uint8 or float.
    Returns:
        uint8 array of the same shape.
    """
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"expected a uint8 image or a float image in [0, 1], got dtype {array.dtype} "
            "(scale 16-bit data with array / 65535 first)"
        )
    array = np.nan_to_num(array.astype(np.float32), nan=0.0)
    return np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)


def to_rgb8(image: Any) -> np.ndarray:
    """Any photo-like array as a contiguous (H, W, 3) uint8 RGB array.

    Accepts (H, W), (H, W, 1), (H, W, 3) and (H, W, 4) (alpha dropped), uint8 or float sRGB in [0, 1].
    Used by detectors, which need exactly (H, W, 3) uint8.
    """
    array = to_uint8(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape[:2]:
        raise ValueError(
            f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {array.shape}"
        )
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3])


def _pil_to_rgb8(im) -> np.ndarray:
    """A loaded Pillow image of any mode as (H, W, 3) uint8 RGB."""
    if im.mode.startswith("I;16") or im.mode == "I":
        values = np.asarray(im).astype(np.float64)
        # 16-bit grey (Pillow's 'I' mode also holds 16-bit PNGs): map 0..65535 to 0..255.
        if im.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = values / 257.0
        return to_rgb8(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    if im.mode == "F":
        values = np.asarray(im, dtype=np.float32)
        if np.nanmax(values, initial=0.0) > 1.0:
            values = values / 255.0
        return to_rgb8(values)
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA")
    return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a photo as (H, W, 3) uint8 sRGB, upright.

    EXIF orientation is applied (``ImageOps.exif_transpose``); grey images are replicated to three
    channels; alpha is dropped (the colour under transparent pixels is kept as stored); 16-bit
    images are reduced to 8 bits; palette images are expanded; multi-frame files give their first
    frame.

    Raises:
        ImageReadError: the file does not exist, is not an image Pillow can decode, or is truncated
            or corrupt.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    if not path.is_file():
        what = "is a folder, not an image file" if path.is_dir() else "does not exist"
        raise ImageReadError(f"Cannot read the image {path}: it {what}.")
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return _pil_to_rgb8(im)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        reason = str(exc) or type(exc).__name__
        raise ImageReadError(
            f"Cannot read {path} as an image ({reason}). The file is not an image in a format "
            "Pillow decodes (PNG, JPEG, TIFF, BMP, WebP, GIF, ...), or it is truncated or corrupt; "
            "open it in an image viewer to check, re-export it, or remove it from the input."
        ) from exc


def write_image(path: str | os.PathLike, image: Any) -> Path:
    """Write an image atomically; the format follows the extension (``.png``, ``.jpg``...).

    Args:
        path: destination; parent folders are created.
        image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array, uint8, or float in [0, 1] taken as
            already sRGB-encoded (clipped and rounded; convert linear renders with
            :func:`linear_to_srgb` first). JPEG drops alpha.
    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    from PIL import Image

    path = Path(path)
    array = to_uint8(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"cannot write an image of shape {np.shape(image)} to {path}")
    picture = Image.fromarray(np.ascontiguousarray(array))
    options: dict[str, Any] = {}
    if path.suffix.lower() in (".jpg", ".jpeg"):
        picture = picture.convert("RGB") if picture.mode == "RGBA" else picture
        options["quality"] = 95
    with atomic_path(path) as tmp:
        picture.save(tmp, **options)
    return path


def sample_map(texture: np.ndarray, uvs: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a map at texture coordinates (u right, v up, row 0 = top = v 1).

    Texel centres sit at ((i + 0.5) / T); lookups beyond the border clamp to the edge texels.

    Args:
        texture: (T, T, C) map.
        uvs: (N, 2) texture coordinates.
    Returns:
        (N, C) float32 values.
    """
    height, width = texture.shape[:2]
    x = np.clip(uvs[:, 0] * width - 0.5, 0.0, width - 1.0)
    y = np.clip((1.0 - uvs[:, 1]) * height - 0.5, 0.0, height - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), max(width - 2, 0))
    y0 = np.minimum(np.floor(y).astype(np.int64), max(height - 2, 0))
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    tex = texture.astype(np.float32)
    top = tex[y0, x0] * (1 - fx) + tex[y0, x1] * fx
    bottom = tex[y1, x0] * (1 - fx) + tex[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)
