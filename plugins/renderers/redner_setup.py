"""Whether redner can be used here, and the one command that makes it so (light: imports no torch)."""
from __future__ import annotations

import importlib.util

__all__ = ["INSTALL", "missing"]

#: What to run in a facerecon checkout to build and install redner (README, "Renderers").
INSTALL = (
    "redner has no package for Python >= 3.9: clone github.com/BachiLi/redner and run "
    "`make redner REDNER_SRC=path/to/redner` in the facerecon checkout, which builds it for this "
    "Python and installs pyredner and its compiled 'redner' module into .venv (README, Renderers); "
    "or use the 'rasterizer' or 'mitsuba' renderer."
)


def missing() -> str | None:
    """None when pyredner and its compiled ``redner`` module are installed, else what to do.

    Looks the modules up without importing them (pyredner imports torch); a module that is found
    but fails to import is reported when the renderer is built.
    """
    for module in ("pyredner", "redner"):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:  # a bare folder named like it is not the module
            return f"'{module}' is not installed. {INSTALL}"
    return None
