"""Names, units and formatting of the numbers in summary rows, shared by reports and comparisons.

Row keys follow a few conventions (``seconds``/``seconds_<stage>`` in seconds, ``loss_<stage>``
the final weighted loss, ``*_iod`` in inter-ocular distances, ``psnr*`` in dB, ``*_mm`` in mm,
``*_deg`` in degrees, ``*_px`` in pixels); :func:`unit_of` reads the unit off the name and
:func:`group_of` sorts a key into the metrics, losses or timings of a face.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["unit_of", "group_of", "format_value", "GROUPS"]

#: The groups a face's numbers are shown in, in order.
GROUPS = ("metrics", "losses", "timings")


def unit_of(key: str) -> str:
    """The unit of a row value named ``key`` ('' when it has none or it is unknown)."""
    name = key.lower()
    if name == "seconds" or name.startswith("seconds_") or name.endswith("_seconds") or name.endswith("_s"):
        return "s"
    if name.endswith("_ms"):
        return "ms"
    if name.startswith("psnr") or name.endswith("_db"):
        return "dB"
    if name.endswith("_iod"):
        return "inter-ocular distances"
    if name.endswith("_mm") or "_mm_" in name:
        return "mm"
    if name.endswith("_deg") or "angle" in name:
        return "°"
    if name.endswith("_px"):
        return "px"
    return ""


def group_of(key: str) -> str:
    """``timings``, ``losses`` or ``metrics``: where a face's value named ``key`` is listed."""
    if unit_of(key) in ("s", "ms"):
        return "timings"
    if key.startswith("loss"):
        return "losses"
    return "metrics"


def format_value(value: Any) -> str:
    """A row value as text: floats to 4 significant digits, NaN as ''."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)
