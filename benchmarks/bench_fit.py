"""Fit speed: seconds per face of ``recipes/quickstart.yaml`` at batch sizes 1, 8 and 32.

The photos are variants of scikit-image's astronaut (mirrored, rotated by up to ±12°, scaled by
0.8–1.1, brighter or darker), so every face of a batch is different. Each batch size fits as
many faces as the batch holds (two at batch 1) through :func:`facerecon.runner.run_recipe`,
with every exporter.

On a CPU the schedule's step counts are multiplied by ``STEP_FRACTION`` to keep ``make bench``
short; the optimisation time is then extrapolated to the full schedule (stage time grows
linearly with steps) and reported beside what was measured. On CUDA the full schedule runs.
Per face the report splits the time into optimisation (the stages) and the rest (detection,
landmarks, crop and PnP, full-photo renders, exporters).

    python -m benchmarks.bench_fit [output_dir]
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import devices as bench_devices
from facerecon.io import atomic_write

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "quickstart.yaml"
BATCH_SIZES = (1, 8, 32)
#: Fraction of each stage's steps run on a CPU (1.0 on CUDA).
STEP_FRACTION = 0.1


def make_photos(folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` different astronaut variants as PNG files in ``folder``."""
    import cv2

    from facerecon.testing import astronaut

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    image = astronaut()
    for index in range(count):
        picture = image[:, ::-1] if index % 2 else image
        matrix = cv2.getRotationMatrix2D((256, 256), rng.uniform(-12, 12), rng.uniform(0.8, 1.1))
        picture = cv2.warpAffine(np.ascontiguousarray(picture), matrix, (512, 512), borderMode=cv2.BORDER_REPLICATE)
        picture = np.clip(picture.astype(np.float32) * rng.uniform(0.8, 1.15), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"face{index:02d}.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return folder


def _bench(device: str, batch: int, photos: Path, output: Path, fraction: float) -> dict:
    from facerecon.pluginmanager import load_plugins
    from facerecon.recipe import load_recipe
    from facerecon.runner import run_recipe

    host = load_plugins()
    stages = load_recipe(RECIPE, host.registry).root.stages
    sets = [f"task.batch_size={batch}", "task.resume=false"]
    sets += [f"stages.{name}.steps={max(1, round(stage.steps * fraction))}" for name, stage in stages.items()]
    shutil.rmtree(output, ignore_errors=True)
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_recipe(RECIPE, host, sets=sets, input=str(photos), output=str(output), device=device)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    faces = len(summary.rows)
    if not faces:
        raise RuntimeError(f"the fit produced no face: {summary.skipped}")
    # Rows of one batch share its stage times: count each batch once.
    batches = {tuple(round(row[f"seconds_{name}"], 2) for name in stages) for row in summary.rows}
    measured = sum(sum(times) for times in batches) / faces
    full = measured / fraction
    task = summary.seconds / faces
    entry = {
        "device": device, "batch_size": batch, "faces": faces, "step_fraction": fraction,
        "optimisation_seconds_per_face_measured": round(measured, 3),
        "optimisation_seconds_per_face_full_schedule": round(full, 3),
        "other_seconds_per_face": round(task - measured, 3),
        "seconds_per_face_full_schedule": round(full + task - measured, 3),
        "task_seconds_per_face_measured": round(task, 3),
        "wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
        "skipped": len(summary.skipped),
        "mean_landmark_error_iod": float(np.mean([row["landmark_error_iod"] for row in summary.rows])),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"   {device} batch {batch}: {json.dumps(entry)}", flush=True)
    return entry


def _plot(results: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for device, entries in results["devices"].items():
        sizes = [e["batch_size"] for e in entries]
        axes.plot(sizes, [e["seconds_per_face_full_schedule"] for e in entries], "o-", label=f"{device}: whole face")
        axes.plot(sizes, [e["optimisation_seconds_per_face_full_schedule"] for e in entries], "s--",
                  label=f"{device}: optimisation")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks(list(BATCH_SIZES), [str(b) for b in BATCH_SIZES])
    axes.set_xlabel("faces per batch")
    axes.set_ylabel("seconds per face (full quickstart schedule)")
    axes.set_title(f"quickstart fit speed — {results['machine']}", fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.savefig(path, dpi=120)


def run(output_dir: Path) -> dict:
    """Time the quickstart fit per batch size; write fit.json and fit.png into ``output_dir``."""
    import platform

    import torch

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    work = output_dir / "fit_work"
    photos = make_photos(work / "photos", max(BATCH_SIZES))
    devices = [device.type for device in bench_devices()]
    results = {
        "recipe": str(RECIPE.relative_to(REPO)),
        "images": "variants of skimage.data.astronaut() (512x512): mirrored, rotated, scaled, exposure",
        "machine": torch.cuda.get_device_name(0) if torch.cuda.is_available()
        else f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores",
        "torch_threads": torch.get_num_threads(),
        "devices": {},
    }
    for device in devices:
        fraction = 1.0 if device == "cuda" else STEP_FRACTION
        results["devices"][device] = []
        for batch in BATCH_SIZES:
            subset = work / f"photos_{batch}"
            shutil.rmtree(subset, ignore_errors=True)
            subset.mkdir(parents=True)
            for source in sorted(photos.iterdir())[:max(batch, 2)]:
                shutil.copy(source, subset / source.name)
            results["devices"][device].append(_bench(device, batch, subset, work / f"out_{device}_{batch}", fraction))
        entries = results["devices"][device]
        results[f"{device}_speedup_batch32_vs_1"] = round(
            entries[0]["seconds_per_face_full_schedule"] / entries[-1]["seconds_per_face_full_schedule"], 2)
    shutil.rmtree(work, ignore_errors=True)
    with atomic_write(output_dir / "fit.json") as handle:
        json.dump(results, handle, indent=2)
    _plot(results, output_dir / "fit.png")
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results")), indent=2))
