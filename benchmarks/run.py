"""Runs every benchmark module (``benchmarks/bench_*.py``) and writes JSON + plots.

Each module exposes ``run(output_dir: Path) -> dict``. Usage::

    python -m benchmarks.run --output benchmarks/results [--only rasterizer]

With ``--only``, ``summary.json`` keeps the earlier results of the benchmarks that did not run.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from pathlib import Path

from facerecon.io import atomic_write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--only", action="append", default=[], help="Run only bench_NAME (repeatable).")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    names = sorted(p.stem[len("bench_"):] for p in Path(__file__).parent.glob("bench_*.py"))
    results = {}
    for name in names:
        if args.only and name not in args.only:
            continue
        print(f"== benchmark {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"benchmarks.bench_{name}")
        results[name] = module.run(args.output)
        print(f"   done in {time.perf_counter() - started:.1f} s", flush=True)
    import torch

    earlier = {}
    if args.only and (args.output / "summary.json").exists():  # keep the benchmarks this run skipped
        earlier = json.loads((args.output / "summary.json").read_text()).get("results", {})
    summary = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "results": {**earlier, **results},
    }
    with atomic_write(args.output / "summary.json") as handle:
        json.dump(summary, handle, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
