"""Where a training step of the rasterizer variant spends its time, and how its speed scales with the batch.

Not part of ``make bench`` (it writes tables for a person, not figures to track): a GPU session runs
it after ``benchmarks.run --only network`` to see why the training figure is what it is.

- ``phases``: the step cut into the network's forward pass, the face pipeline (decode + render),
  the losses, the backward pass and the optimiser (clipping and AdamW), each timed with the device
  synchronised around it (median of ``--steps`` steps; the sum exceeds a plain step by the
  synchronisations);
- ``batches``: training images per second at each of ``--batches`` (median of ``--steps`` steps),
  and on CUDA the peak memory the step allocated;
- ``profile.txt``: torch.profiler's operators of ``--steps`` steps at the first batch size, sorted by
  their own device time (CPU time on a CPU).

    python -m benchmarks.profile_network [--backbone resnet50] [--device cuda] [--output DIR]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from benchmarks.bench_network import _interleaved, _sync, training_step
from facerecon.io import atomic_write


def _phases(trainer, data, device: torch.device, steps: int) -> dict[str, float]:
    """Median milliseconds of each phase of a training step (module docstring)."""
    from plugins.tasks.facesets import batch_targets

    stage = trainer.current
    samples: dict[str, list[float]] = {}

    def timed(name, fn):
        _sync(device)
        started = time.perf_counter()
        out = fn()
        _sync(device)
        samples.setdefault(name, []).append(1000 * (time.perf_counter() - started))
        return out

    for _ in range(steps + 1):
        images, targets = batch_targets(data, device)
        network = trainer.model
        values = timed("network", lambda: network(images, targets.principal, textures=network.predicts_textures))
        inputs = timed("pipeline", lambda: trainer.pipeline(values, targets, render=True, renderer=stage.renderer,
                                                             textures=network.predicts_textures))
        total = timed("losses", lambda: sum(loss.weight * loss(inputs) for loss in stage.losses.values()).mean())
        trainer.optimizer.zero_grad(set_to_none=True)
        timed("backward", total.backward)
        timed("optimiser", lambda: (torch.nn.utils.clip_grad_norm_(
            [p for group in trainer.optimizer.param_groups for p in group["params"]], trainer.params.grad_clip),
            trainer.optimizer.step()))
    return {name: round(statistics.median(times[1:]), 2) for name, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", default="64", help="comma-separated batch sizes; the first is profiled")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    device = torch.device(args.device)
    batches = [int(b) for b in args.batches.split(",")]
    args.output.mkdir(parents=True, exist_ok=True)
    results: dict = {"backbone": args.backbone, "device": str(device), "batches": {}}
    for index, batch in enumerate(batches):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        trainer, data = training_step(args.backbone, device, batch, steps=4 * args.steps + 4)
        [seconds] = _interleaved([lambda: trainer.step(data)], device, args.steps)
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
        results["batches"][batch] = {"images_per_s": round(batch / seconds, 1),
                                     "peak_gib": None if peak is None else round(peak, 2)}
        print(f"batch {batch}: {batch / seconds:.1f} images/s ({1000 * seconds:.1f} ms a step)"
              + ("" if peak is None else f", peak {peak:.1f} GiB"), flush=True)
        if index == 0:
            results["phases_ms"] = _phases(trainer, data, device, args.steps)
            print(f"phases (ms): {results['phases_ms']}", flush=True)
            activities = [torch.profiler.ProfilerActivity.CPU] + (
                [torch.profiler.ProfilerActivity.CUDA] if device.type == "cuda" else [])
            with torch.profiler.profile(activities=activities) as profiler:
                for _ in range(args.steps):
                    trainer.step(data)
                _sync(device)
            key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
            table = profiler.key_averages().table(sort_by=key, row_limit=45, max_name_column_width=60)
            with atomic_write(args.output / "profile.txt") as handle:
                handle.write(table)
            print(table[:6000], flush=True)
        del trainer, data
    with atomic_write(args.output / "profile.json") as handle:
        json.dump(results, handle, indent=2)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
