"""``loss.png``: the total loss per step of each optimisation stage, one subplot per stage.

Drawn with matplotlib's object API on an Agg canvas (no pyplot global state, no display needed).
A stage's y axis is logarithmic when ``log_scale`` is set and all its values are positive.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from facerecon.interfaces import Exporter, FaceResult
from facerecon.io import atomic_path

__all__ = ["LossPlotExporter"]


class LossPlotExporter(Exporter):
    """Writes ``<filename>.png``; nothing when the result has no losses."""

    writes_maps = False

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Plot every non-empty stage; return the path written."""
        stages = {name: np.asarray(values, dtype=np.float64)
                  for name, values in result.losses.items() if len(values)}
        if not stages:
            return []
        figure = Figure(figsize=(4.0 * len(stages), 3.0), dpi=self.params.dpi, layout="constrained")
        FigureCanvasAgg(figure)
        for axes, (name, values) in zip(figure.subplots(1, len(stages), squeeze=False)[0], stages.items()):
            axes.plot(np.arange(len(values)), values, linewidth=1.0)
            finite = values[np.isfinite(values)]
            if self.params.log_scale and finite.size and (finite > 0).all():
                axes.set_yscale("log")
            axes.set_title(name)
            axes.set_xlabel("step")
            axes.set_ylabel("loss")
            axes.grid(True, alpha=0.3)
        path = Path(folder) / f"{self.params.filename}.png"
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png")
        return [path]
