"""Environment map export: ``envmap.png`` (tone-mapped, sRGB) and optionally ``envmap.npy``.

The PNG is ``encode_srgb(tonemap(max(envmap, 0) · 2**exposure))``; negative radiance (possible
with truncated spherical harmonics) is clipped to 0. The ``.npy`` keeps the linear float32 map,
(He, We, 3) lat-long, row 0 = up.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facerecon.interfaces import Exporter, FaceResult
from facerecon.io import atomic_write

from .maps import save_map

__all__ = ["EnvmapExporter", "tonemap"]


def tonemap(linear: np.ndarray, exposure: float, curve: str) -> np.ndarray:
    """(H, W, 3) linear radiance -> (H, W, 3) display-linear values in [0, 1]."""
    scaled = np.maximum(np.asarray(linear, dtype=np.float32), 0.0) * np.float32(2.0 ** exposure)
    if curve == "reinhard":
        return scaled / (1.0 + scaled)
    if curve == "clip":
        return np.minimum(scaled, 1.0)
    raise ValueError(f"unknown tone curve {curve!r}")


class EnvmapExporter(Exporter):
    """Writes the result's environment map; nothing when the result has none."""

    writes_maps = False

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write ``<filename>.png`` (and ``.npy`` when ``save_npy``); return the paths."""
        if result.envmap is None:
            return []
        folder = Path(folder)
        png = folder / f"{self.params.filename}.png"
        save_map(png, tonemap(result.envmap, self.params.exposure, self.params.tonemap), srgb=True)
        written = [png]
        if self.params.save_npy:
            npy = folder / f"{self.params.filename}.npy"
            with atomic_write(npy, "wb") as handle:
                np.save(handle, np.asarray(result.envmap, dtype=np.float32))
            written.append(npy)
        return written
