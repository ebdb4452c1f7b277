"""Picture strips: panels side by side in one PNG, with a sidecar naming each panel.

An exporter that writes a strip of panels (the built-in ``render-strip``: input | overlay |
render | maps ...) writes it with :func:`write_strip`; ``<stem>.png`` gets a sidecar
``<stem>.panels.json`` (``{"height": H, "panels": [{"label": "input", "x": 0, "width": W}, ...]}``)
so that reports can cut single panels out of it again (:func:`read_panels`) — the contact sheet
shows every face's ``input``, ``overlay`` and ``render`` panels this way.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import FaceReconError
from ..imaging import read_image, write_image
from ..io import atomic_write

__all__ = ["write_strip", "read_panels", "sidecar_path"]


def sidecar_path(strip: Path) -> Path:
    """The panels sidecar of a strip PNG: ``<stem>.panels.json`` beside it."""
    strip = Path(strip)
    return strip.with_name(f"{strip.stem}.panels.json")


def write_strip(path: Path, panels: list[tuple[str, np.ndarray]]) -> list[Path]:
    """Write ``panels`` ((label, (H, w, 3) uint8), all of one height) side by side into ``path``
    and their layout into its sidecar, both atomically; return both paths."""
    heights = {panel.shape[0] for _, panel in panels}
    if len(heights) != 1:
        raise ValueError(f"the panels of a strip must have one height, got {sorted(heights)}")
    path = Path(path)
    write_image(path, np.concatenate([panel for _, panel in panels], axis=1))
    layout, x = [], 0
    for label, panel in panels:
        layout.append({"label": label, "x": x, "width": int(panel.shape[1])})
        x += int(panel.shape[1])
    sidecar = sidecar_path(path)
    with atomic_write(sidecar) as handle:
        json.dump({"height": heights.pop(), "panels": layout}, handle, indent=1)
    return [path, sidecar]


def read_panels(path: Path) -> dict[str, np.ndarray] | None:
    """The labelled panels of a strip, as (H, w, 3) uint8 images by label; None when the strip or
    its sidecar is missing or they do not match."""
    path = Path(path)
    try:
        layout = json.loads(sidecar_path(path).read_text())
        image = read_image(path)
        panels = {}
        for panel in layout["panels"]:
            x, width = int(panel["x"]), int(panel["width"])
            if x < 0 or width <= 0 or x + width > image.shape[1]:
                return None
            panels[str(panel["label"])] = image[:, x:x + width]
        return panels
    except (OSError, ValueError, KeyError, TypeError, FaceReconError):
        return None
