"""What the evaluate task writes: the per-face table, the per-variant summary and the plots.

- ``evaluation.csv``: one row per variant (or baseline) and face, every metric;
- ``accuracy.json`` and ``accuracy.md``: per variant, on the faces every variant found (so rows
  compare the same faces), NoW's statistics (median, mean, std) over every face-region point of
  every face, and the mean of the other metrics over faces; ``accuracy.json`` also has them over
  all the faces each variant found;
- ``errors.png``: histograms and cumulative curves of those distances;
- ``heatmap.png``: each variant's mean vertex-to-vertex error per vertex, painted on the mean face.
"""
from __future__ import annotations

import csv
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facerecon.evaluation.metrics import distance_stats
from facerecon.evaluation.scoring import METRICS
from facerecon.io import atomic_path, atomic_write

__all__ = ["FaceRecord", "summarise", "write_table", "write_summary", "plot_errors", "plot_heatmap"]

#: Metrics pooled over points (NoW's statistics) rather than averaged over faces.
_POOLED = {"v2v": ("v2v_median", "v2v_mean", "v2v_std"), "p2s": ("p2s_median", "p2s_mean", "p2s_std")}


@dataclass
class FaceRecord:
    """One variant's result on one face.

    Attributes:
        variant: the variant or baseline name; face: the sample name; status: ``ok``,
            ``not found`` (no face reconstructed) or an error.
        metrics: metric name -> value (NaN when not measured).
        seconds: time the reconstruction took, or NaN.
        vertex_errors: (V,) vertex-to-vertex distances (NaN outside the face region), or None.
        surface_errors: (N,) point-to-surface distances, or None.
    """

    variant: str
    face: str
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = math.nan
    vertex_errors: np.ndarray | None = None
    surface_errors: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        """Whether the face was reconstructed and scored."""
        return self.status == "ok"


def _mean(values: list[float]) -> float:
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def summarise(records: list[FaceRecord], faces: set[str] | None = None) -> dict[str, Any]:
    """One variant's summary over ``faces`` (default: every face it reconstructed)."""
    mine = [r for r in records if r.ok and (faces is None or r.face in faces)]
    summary: dict[str, Any] = {"faces": len(mine)}
    for prefix, names in _POOLED.items():
        arrays = [r.vertex_errors[np.isfinite(r.vertex_errors)] if prefix == "v2v" and r.vertex_errors is not None
                  else r.surface_errors if prefix == "p2s" and r.surface_errors is not None else None for r in mine]
        arrays = [a for a in arrays if a is not None]
        stats = distance_stats(np.concatenate(arrays) if arrays else np.empty(0))
        summary.update({name: stats[name.split("_")[1]] for name in names})
    for name in METRICS:
        if not any(name in names for names in _POOLED.values()):
            summary[name] = _mean([r.metrics.get(name, math.nan) for r in mine])
    summary["seconds"] = _mean([r.seconds for r in mine])
    return summary


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def write_table(records: list[FaceRecord], path: Path) -> Path:
    """``evaluation.csv``: variant, face, status, seconds and every metric."""
    columns = ["variant", "face", "status", "seconds", *METRICS]
    with atomic_write(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for r in records:
            writer.writerow([r.variant, r.face, r.status, _cell(r.seconds), *(_cell(r.metrics.get(m, math.nan)) for m in METRICS)])
    return path


def write_summary(summary: dict[str, Any], folder: Path) -> list[Path]:
    """``accuracy.json`` (all of ``summary``) and ``accuracy.md`` (the table over common faces)."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    json_path, md_path = folder / "accuracy.json", folder / "accuracy.md"
    with atomic_write(json_path) as handle:
        json.dump(plain(summary), handle, indent=2)
        handle.write("\n")
    rows = summary["common"]
    columns = ["variant", "faces", *(c for c in next(iter(rows.values()), {}) if c != "faces")] if rows else ["variant"]
    lines = [f"Faces every variant reconstructed: {summary['common_faces']} of {summary['total_faces']}.", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for variant, row in rows.items():
        lines.append("| " + " | ".join([variant] + [_cell(row.get(c, "")) for c in columns[1:]]) + " |")
    with atomic_write(md_path) as handle:
        handle.write("\n".join(lines) + "\n")
    return [json_path, md_path]


def _figure(path: Path, fig) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def plot_errors(records: list[FaceRecord], faces: set[str], path: Path, limit_mm: float = 8.0) -> Path | None:
    """Histograms and cumulative curves of point-to-surface and vertex-to-vertex distances per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(dict.fromkeys(r.variant for r in records))
    pooled: dict[str, dict[str, np.ndarray]] = {}
    for variant in variants:
        mine = [r for r in records if r.variant == variant and r.ok and r.face in faces]
        surface = [r.surface_errors for r in mine if r.surface_errors is not None]
        vertex = [r.vertex_errors[np.isfinite(r.vertex_errors)] for r in mine if r.vertex_errors is not None]
        pooled[variant] = {"point-to-surface": np.concatenate(surface) if surface else np.empty(0),
                           "vertex-to-vertex": np.concatenate(vertex) if vertex else np.empty(0)}
    kinds = [k for k in ("point-to-surface", "vertex-to-vertex") if any(p[k].size for p in pooled.values())]
    if not kinds:
        return None
    fig, axes = plt.subplots(2, len(kinds), figsize=(5.5 * len(kinds), 7), squeeze=False)
    bins = np.linspace(0.0, limit_mm, 81)
    for column, kind in enumerate(kinds):
        for variant in variants:
            values = pooled[variant][kind]
            if not values.size:
                continue
            label = f"{variant} (median {np.median(values):.2f})"
            axes[0, column].hist(np.clip(values, 0, limit_mm), bins=bins, histtype="step", density=True, label=label)
            ordered = np.sort(values)
            axes[1, column].plot(ordered, np.arange(1, len(ordered) + 1) / len(ordered) * 100.0, label=variant)
        axes[0, column].set_title(f"{kind} error on {len(faces)} faces")
        axes[0, column].set_xlabel("mm")
        axes[0, column].legend(fontsize=8)
        axes[1, column].set_xlim(0, limit_mm)
        axes[1, column].set_ylim(0, 100)
        axes[1, column].set_xlabel("error (mm)")
        axes[1, column].set_ylabel("% of points below")
        axes[1, column].grid(alpha=0.3)
    fig.tight_layout()
    return _figure(path, fig)


def plot_heatmap(records: list[FaceRecord], faces: set[str], mean_face: np.ndarray, triangles: np.ndarray,
                 path: Path, limit_mm: float = 4.0) -> Path | None:
    """Each variant's vertex-to-vertex error averaged over faces, per vertex, on a frontal view of
    ``mean_face`` (V, 3) model frame (y up); triangles: (F, 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    maps = {}
    for variant in dict.fromkeys(r.variant for r in records):
        errors = [r.vertex_errors for r in records if r.variant == variant and r.ok and r.face in faces
                  and r.vertex_errors is not None and r.vertex_errors.shape == (len(mean_face),)]
        if errors:
            with warnings.catch_warnings():  # vertices outside the face region are NaN in every face
                warnings.simplefilter("ignore", RuntimeWarning)
                maps[variant] = np.nanmean(np.stack(errors), axis=0)
    if not maps:
        return None
    fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps) + 1.4, 3.8), squeeze=False)
    image = None
    for ax, (variant, values) in zip(axes[0], maps.items()):
        shown = np.isfinite(values)[triangles].all(1)
        tri = triangles[shown]
        tri = tri[np.argsort(mean_face[tri, 2].mean(1))]  # far to near: the nearer surface is drawn last
        mesh = Triangulation(mean_face[:, 0], mean_face[:, 1], tri)
        image = ax.tripcolor(mesh, np.nan_to_num(values), shading="gouraud", cmap="inferno", vmin=0.0, vmax=limit_mm)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(f"{variant}\nmean of vertices {np.nanmean(values):.2f} mm", fontsize=8)
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="mean vertex-to-vertex error (mm)")
    return _figure(path, fig)
