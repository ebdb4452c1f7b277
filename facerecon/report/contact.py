"""The contact sheet: every face of a run at a glance, input | overlay | render, with its status.

:func:`face_panels` cuts a face's ``input``, ``overlay`` and ``render`` panels out of its preview
strip (through the strip's panels sidecar, :mod:`facerecon.report.strips`), or shows the whole
preview picture when it has none. :func:`contact_sheet` lays the faces out as tiles: a band in
the status colour with the face's name and status, the panels, and the reason of a failed or
suspect face; :func:`write_contact_sheet` saves it as ``contact_sheet.png``.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np

from ..errors import FaceReconError
from ..imaging import read_image, write_image
from .folder import FaceRecord
from .strips import read_panels

__all__ = ["CONTACT_PANELS", "STATUS_COLOURS", "face_panels", "contact_sheet", "write_contact_sheet", "status_colour"]

#: The panels of a preview strip the contact sheet shows, left to right.
CONTACT_PANELS = ("input", "overlay", "render")
#: Band colour (RGB) of each status; anything else (``unavailable``...) is grey.
STATUS_COLOURS = {"ok": (46, 125, 50), "resumed": (46, 125, 50), "suspect": (230, 140, 0), "failed": (198, 40, 40)}
_GREY = (110, 110, 110)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def status_colour(status: str) -> tuple[int, int, int]:
    """The RGB colour reports use for ``status``."""
    return STATUS_COLOURS.get(status, _GREY)


def _fit(image: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """Scale to ``height`` rows (aspect kept), then no wider than ``width``."""
    scale = height / image.shape[0]
    if width is not None:
        scale = min(scale, width / image.shape[1])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image[..., :3]), size, interpolation=interpolation)


def face_panels(face: FaceRecord, height: int) -> np.ndarray | None:
    """(height, w, 3) uint8: the face's input | overlay | render panels side by side (the whole
    preview, at most three panels wide, when its strip names no panels); None without a preview."""
    if face.preview is None:
        return None
    panels = read_panels(face.preview)
    chosen = [panels[label] for label in CONTACT_PANELS if label in panels] if panels else []
    if chosen:
        return np.concatenate([_fit(panel, height) for panel in chosen], axis=1)
    try:
        return _fit(read_image(face.preview), height, 3 * height)
    except FaceReconError:
        return None


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour, thickness: int = 1) -> None:
    cv2.putText(canvas, text, origin, _FONT, scale, colour, thickness, cv2.LINE_AA)


def _tile(face: FaceRecord, height: int) -> np.ndarray:
    """One face: status band, panels (or a grey field), and the reason below."""
    width = 3 * height
    band = max(22, height // 7)
    scale = band / 40
    reason_lines = textwrap.wrap(face.reason, width=max(20, int(width / (17 * scale)))) if face.reason else []
    line = int(band * 0.8)
    tile = np.full((band + height + line * len(reason_lines) + (6 if reason_lines else 0), width, 3), 255, np.uint8)
    tile[:band] = status_colour(face.status)
    _text(tile, f"{face.name}  [{face.status}]", (6, int(band * 0.72)), scale, (255, 255, 255), 1)
    panels = face_panels(face, height)
    if panels is None:
        tile[band:band + height] = 225
        _text(tile, "no result" if face.folder is None else "no picture", (8, band + height // 2), scale, (90, 90, 90))
    else:
        panels = panels[:, :width]
        top = band + (height - panels.shape[0]) // 2
        tile[top:top + panels.shape[0], :panels.shape[1]] = panels
    for index, text in enumerate(reason_lines):
        _text(tile, text, (6, band + height + line * (index + 1)), scale * 0.85, (60, 60, 60))
    return tile


def contact_sheet(faces: list[FaceRecord], height: int = 160, columns: int | None = None) -> np.ndarray | None:
    """(H, W, 3) uint8: one tile per face (see module doc), ``columns`` per row (up to 3 by
    default); None without faces."""
    if not faces:
        return None
    columns = columns or min(3, len(faces))
    tiles = [_tile(face, height) for face in faces]
    gap = 8
    rows = []
    for start in range(0, len(tiles), columns):
        row_tiles = tiles[start:start + columns]
        row_height = max(t.shape[0] for t in row_tiles)
        padded = [np.pad(t, ((0, row_height - t.shape[0]), (0, gap), (0, 0)), constant_values=255) for t in row_tiles]
        row = np.concatenate(padded, axis=1)
        rows.append(np.pad(row, ((0, gap), (0, columns * (3 * height + gap) - row.shape[1]), (0, 0)), constant_values=255))
    sheet = np.concatenate(rows, axis=0)
    return np.pad(sheet, ((gap, 0), (gap, 0), (0, 0)), constant_values=255)


def write_contact_sheet(faces: list[FaceRecord], path: Path, height: int = 160) -> Path | None:
    """Write :func:`contact_sheet` to ``path`` (PNG, atomically); None without faces."""
    sheet = contact_sheet(faces, height)
    if sheet is None:
        return None
    return write_image(path, sheet)
