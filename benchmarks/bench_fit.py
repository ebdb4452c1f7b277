"""Fit speed: seconds per face for the full ``recipes/quickstart.yaml`` on the astronaut photo.

Runs the recipe unchanged (256 px crop, 256-texel maps, 300 landmark + 120 photometric + 60
texture steps, every exporter) through :func:`facerecon.runner.run_recipe`, on the CPU and, when
present, on CUDA. Per face it reports the task's own time and splits it into the optimisation
stages (timed by wrapping ``plugins.tasks.fit.run_stage``), the final result with its full-photo
renders (``FitTask._result``) and the rest (landmark detection, crop, PnP, exporters). ``setup``
is what the run spends outside the face (plugin loading, model build, face detection). The load
average of the machine is recorded before and after: on a shared CPU wall times scale with it,
so the process CPU time (all threads) is recorded too; wall ≈ CPU / threads on an idle machine.

    python benchmarks/bench_fit.py [output_dir]
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from facerecon.io import atomic_write

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "quickstart.yaml"
TARGET_SECONDS = 60.0


@contextmanager
def _timed_fit(stage_seconds: dict, stage_cpu: dict, result_seconds: list):
    """Wrap the fit task's stage runner and result builder to record their wall (and CPU) times."""
    import plugins.tasks.fit as fit

    run_stage, result = fit.run_stage, fit.FitTask._result

    def timed_stage(name, *args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return run_stage(name, *args, **kwargs)
        finally:
            stage_seconds[name] = stage_seconds.get(name, 0.0) + time.perf_counter() - started
            stage_cpu[name] = stage_cpu.get(name, 0.0) + time.process_time() - cpu

    def timed_result(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return result(self, *args, **kwargs)
        finally:
            result_seconds.append(time.perf_counter() - started)

    fit.run_stage, fit.FitTask._result = timed_stage, timed_result
    try:
        yield
    finally:
        fit.run_stage, fit.FitTask._result = run_stage, result


def _landmark_nme(folder: Path) -> float | None:
    """Mean fitted-to-detected landmark distance over the outer-eye-corner distance."""
    path = folder / "landmarks.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    detected, fitted = np.asarray(data["detected"]), np.asarray(data["fitted"])
    return float(np.linalg.norm(fitted - detected, axis=1).mean() / np.linalg.norm(detected[36] - detected[45]))


def _bench_device(device: str, output_dir: Path) -> dict:
    from facerecon.pluginmanager import load_plugins
    from facerecon.recipe import load_recipe
    from facerecon.runner import run_recipe

    out = output_dir / f"fit_{device}"
    shutil.rmtree(out, ignore_errors=True)
    load_before = os.getloadavg()
    started, cpu = time.perf_counter(), time.process_time()
    host = load_plugins()
    stage_seconds: dict[str, float] = {}
    stage_cpu: dict[str, float] = {}
    result_seconds: list[float] = []
    with _timed_fit(stage_seconds, stage_cpu, result_seconds):
        summary = run_recipe(RECIPE, host, sets=["task.resume=false"], output=str(out), device=device)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not summary.rows:
        raise RuntimeError(f"the fit produced no face: {summary.skipped}")
    row = summary.rows[0]
    stages = load_recipe(RECIPE, host.registry).root.stages
    per_stage = {
        name: {"seconds": round(seconds, 2), "steps": stages[name].steps,
               "ms_per_step": round(1000.0 * seconds / max(stages[name].steps, 1), 1),
               "cpu_seconds": round(stage_cpu[name], 2)}
        for name, seconds in stage_seconds.items()
    }
    face = float(row["seconds"])
    result = sum(result_seconds)
    entry = {
        "device": device,
        "faces": len(summary.rows),
        "seconds_per_face": face,
        "stages": per_stage,
        "result_and_photo_renders_seconds": round(result, 2),
        "detect_init_export_seconds": round(face - sum(stage_seconds.values()) - result, 2),
        "setup_seconds": round(wall - face, 2),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "meets_target": face <= TARGET_SECONDS,
        "landmark_nme": _landmark_nme(out / row["face"]),
        "row_landmark_error_iod": row.get("landmark_error_iod"),
        "final_losses": {k[len("loss_"):]: v for k, v in row.items() if k.startswith("loss_")},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"   {device}: {json.dumps(entry)}", flush=True)
    return entry


def _plot(results: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    devices = list(results["devices"].values())
    figure = Figure(figsize=(7, 1.2 + 1.1 * len(devices)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    parts = [*devices[0]["stages"], "result + renders", "detect, init, export"]
    left = np.zeros(len(devices))
    for part in parts:
        widths = np.array([
            d["stages"][part]["seconds"] if part in d["stages"]
            else d["result_and_photo_renders_seconds"] if part == "result + renders"
            else d["detect_init_export_seconds"]
            for d in devices
        ])
        axes.barh(range(len(devices)), widths, left=left, label=part)
        left += widths
    axes.axvline(TARGET_SECONDS, color="grey", linestyle="--", linewidth=1, label=f"{TARGET_SECONDS:.0f} s target")
    axes.set_yticks(range(len(devices)))
    axes.set_yticklabels([f"{d['device']}\nload {d['load_average_before'][0]:.1f}" for d in devices])
    axes.set_xlabel("seconds per face")
    axes.set_title("quickstart fit of the astronaut photo")
    axes.legend(fontsize=7, loc="lower right")
    figure.savefig(path, dpi=120)


def run(output_dir: Path) -> dict:
    """Time the full quickstart fit; write fit.json and fit.png into ``output_dir``."""
    import platform

    import torch

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = {
        "recipe": str(RECIPE.relative_to(REPO)),
        "image": "skimage.data.astronaut() (512x512)",
        "target_seconds_per_face": TARGET_SECONDS,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "devices": {device: _bench_device(device, output_dir) for device in devices},
    }
    with atomic_write(output_dir / "fit.json") as handle:
        json.dump(results, handle, indent=2)
    _plot(results, output_dir / "fit.png")
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results")), indent=2))
