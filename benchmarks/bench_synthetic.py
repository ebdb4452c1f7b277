"""Ground-truth photo generation: seconds per photo and Monte Carlo noise against samples per pixel.

Draws two faces as the ``synthetic-faces`` dataset does (default settings: 512² photos, faces
150–250 px wide) and path traces each with Mitsuba at 16, 64 and 256 samples per pixel, twice
with different seeds and without sensor noise. The noise of one render is the RMS difference of
the two renders over the face region divided by √2, in 8-bit sRGB levels (the dataset adds 1
level of sensor noise on top). Times are the second render's (Dr.Jit compiles its kernels once,
on the first); the load average is recorded as on a shared CPU times scale with it.

    python benchmarks/bench_synthetic.py [output_dir]
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from facerecon.io import atomic_write

SPPS = (16, 64, 256)
FACES = 2


def run(output_dir: Path) -> dict:
    """Time and measure the noise of the photo renders; write synthetic.json."""
    from facerecon.api import build
    from facerecon.evaluation.draw import draw_truth
    from facerecon.evaluation.settings import DrawSettings
    from plugins.evaluation.photo import render_photo

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model = build("morphable_model", "bfm-lite")
    settings = DrawSettings()
    load_before = os.getloadavg()[0]
    rows = []
    for face in range(FACES):
        truth = draw_truth(model, np.random.default_rng([0, face]), settings, "bfm-lite")
        black = np.zeros((truth.image_size[1], truth.image_size[0], 3), np.uint8)
        for spp in SPPS:
            first, _, region = render_photo(truth, black, spp, 1, 0.0, np.random.default_rng(0))
            started = time.perf_counter()
            second, _, _ = render_photo(truth, black, spp, 2, 0.0, np.random.default_rng(0))
            seconds = time.perf_counter() - started
            difference = first.astype(np.float64)[region] - second.astype(np.float64)[region]
            rows.append({"face": face, "spp": spp, "seconds": round(seconds, 2),
                         "noise_levels": round(float(np.sqrt((difference ** 2).mean() / 2.0)), 3),
                         "face_pixels": int(region.sum())})
    results = {"image_size": list(settings.image_size), "load_average": [load_before, os.getloadavg()[0]],
               "renders": rows}
    with atomic_write(output_dir / "synthetic.json") as handle:
        json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results")), indent=2))
