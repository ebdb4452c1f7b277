"""What a run left on disk, read back for its report.

:func:`read_run` reads an output folder: ``summary.json`` (every input with its status and
reason, written by :func:`facerecon.runner.write_summary`), the run's ``recipe.resolved.yaml``
and every complete item folder (one with the ``.complete.json`` marker of
:class:`facerecon.outputs.OutputFolder`). Nothing here knows which exporters ran: an item's
pictures are its PNG files, its mesh the first mesh file found (GLB, then PLY, then OBJ), its
numbers those of its summary row.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..outputs import COMPLETE_MARKER, RESOLVED_NAME
from .strips import sidecar_path

__all__ = ["FaceRecord", "RunRecord", "read_run", "MESH_SUFFIXES", "STATUS_ORDER"]

#: Mesh files the 3D view reads, best first (GLB is always y up and carries its texture).
MESH_SUFFIXES = (".glb", ".ply", ".obj")
#: Statuses a row may have, in the order reports list them.
STATUS_ORDER = ("failed", "unavailable", "suspect", "ok", "resumed")
#: Row keys that are not shown as numbers or text (file paths, the item's name).
_NOT_SHOWN = {"item", "face", "name", "status", "reason", "preview", "outputs", "recipe_hash", "variant"}


@dataclass
class FaceRecord:
    """One item of a run as its files show it.

    Attributes:
        name: the item (face folder name, or the input that failed).
        status: ``ok``, ``suspect``, ``resumed`` or ``failed`` (or ``unavailable`` in comparisons).
        reason: why it failed or is suspect ('' otherwise).
        values: the row's other values (numbers and short texts), in row order.
        folder: its result folder, None when it has none.
        preview: the picture that sums it up (the row's ``preview``), None when there is none.
        pictures: every PNG of the folder, the preview first.
        mesh: the mesh file the 3D view shows, or None.
    """

    name: str
    status: str = "ok"
    reason: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None
    preview: Path | None = None
    pictures: list[Path] = field(default_factory=list)
    mesh: Path | None = None

    @property
    def recipe(self) -> Path | None:
        """The resolved recipe that made this item, if its folder holds one."""
        path = self.folder / RESOLVED_NAME if self.folder is not None else None
        return path if path is not None and path.is_file() else None


@dataclass
class RunRecord:
    """A run's output folder as its files show it.

    Attributes:
        folder: the output folder; faces: every item, in the summary's order;
        seconds: the run's wall time (None when unknown); recipe: the run's resolved recipe file.
    """

    folder: Path
    faces: list[FaceRecord] = field(default_factory=list)
    seconds: float | None = None
    recipe: Path | None = None

    def counts(self) -> dict[str, int]:
        """How many items have each status."""
        counts: dict[str, int] = {}
        for face in self.faces:
            counts[face.status] = counts.get(face.status, 0) + 1
        return counts


def _values(row: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for key, value in row.items():
        if key in _NOT_SHOWN or isinstance(value, (list, dict)) or value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        values[key] = value
    return values


def _face(folder: Path, row: dict[str, Any], status: str | None = None) -> FaceRecord:
    """The record of a complete item folder; ``row`` is its summary row (or marker)."""
    pictures = sorted(p for p in folder.glob("*.png") if not p.name.startswith("."))
    preview_name = Path(str(row.get("preview") or "")).name
    preview = folder / preview_name if preview_name and (folder / preview_name).is_file() else None
    if preview is None:  # a strip with panels sums a face up best
        preview = next((p for p in pictures if sidecar_path(p).is_file()), pictures[0] if pictures else None)
    if preview is not None:
        pictures = [preview] + [p for p in pictures if p != preview]
    mesh = next((path for suffix in MESH_SUFFIXES for path in sorted(folder.glob(f"*{suffix}"))), None)
    return FaceRecord(name=folder.name, status=status or str(row.get("status", "ok")), reason=str(row.get("reason", "")),
                      values=_values(row), folder=folder, preview=preview, pictures=pictures, mesh=mesh)


def _marker(folder: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((folder / COMPLETE_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def read_run(folder: str | Path) -> RunRecord:
    """Read an output folder (see module doc). Items in ``summary.json`` come first, in its order;
    complete item folders it does not list (a run that was stopped) follow, by name."""
    folder = Path(folder)
    record = RunRecord(folder=folder, recipe=folder / RESOLVED_NAME if (folder / RESOLVED_NAME).is_file() else None)
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {}
    if isinstance(summary.get("seconds"), (int, float)):
        record.seconds = float(summary["seconds"])
    seen: set[str] = set()
    for index, item in enumerate(summary.get("items", [])):
        if not isinstance(item, dict):
            continue
        # rows of tasks that make no item folders (evaluate, train) may name no item
        name = str(item.get("item") or item.get("face") or item.get("variant") or f"item {index + 1}")
        item_folder = folder / name
        if name and _marker(item_folder) is not None:
            record.faces.append(_face(item_folder, item, str(item.get("status", "ok"))))
        else:
            record.faces.append(FaceRecord(name=name, status=str(item.get("status", "failed")),
                                           reason=str(item.get("reason", "")), values=_values(item)))
        seen.add(name)
    for item_folder in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in seen) \
            if folder.is_dir() else []:
        marker = _marker(item_folder)
        if marker is not None:
            record.faces.append(_face(item_folder, marker))
    return record
