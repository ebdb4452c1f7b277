"""Runs a recipe: validate, prepare the output folder, build the task, run it, summarise."""
from __future__ import annotations

import os
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .api import cache_dir, resolve_device
from .errors import FaceReconError
from .pluginmanager import PluginHost
from .io import atomic_write
from .outputs import RESOLVED_NAME, OutputFolder
from .recipe import Builder, load_recipe, resolved_tree, write_resolved

__all__ = ["run_recipe", "reproducible", "write_summary", "write_run_report", "RESOLVED_NAME"]


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def reproducible(device):
    """Runs on a CPU repeat exactly: torch's deterministic algorithms, for the length of the block.

    On a CPU the only operations torch runs in a varying order are accumulating index writes
    (the backward pass of ``tensor[index]``), which its threads add atomically; the deterministic
    variant adds serially and costs no measurable time here. Without it a photometric fit on two
    threads ended 1.4-3.2 mm apart from run to run (tests/plugins/test_fit_synthetic.py). Torch's
    filling of new tensors with NaN, which that mode also turns on, is left off (it costs time and
    changes no result). CUDA runs are left as they are.
    """
    import torch
    import torch.utils.deterministic

    if device.type != "cpu":
        yield
        return
    mode, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
        torch.utils.deterministic.fill_uninitialized_memory = fill


def run_recipe(
    recipe_path: str | Path,
    host: PluginHost,
    sets: tuple[str, ...] | list[str] = (),
    input: str | None = None,
    output: str | None = None,
    device: str | None = None,
    seed: int | None = None,
    debug: bool = False,
):
    """Run one recipe end to end and return the task's :class:`RunSummary`.

    ``input`` sets ``dataset.input``; ``output``, ``device`` and ``seed`` override the recipe's.
    The recipe's inputs are checked (by building its dataset) before the output folder is made;
    then leftovers of killed runs are removed, the fully resolved recipe is written to
    ``<output>/recipe.resolved.yaml``, the task runs, and ``summary.json`` and ``failures.csv``
    list every input with its status; ``report.html`` and ``contact_sheet.png`` show them
    (written by the process of rank 0 alone when torchrun starts several: ``RANK`` in the environment).
    On a CPU the task runs with torch's deterministic algorithms, so that a rerun gives the same
    numbers (:func:`reproducible`).
    """
    overrides = {"output": output, "device": device, "seed": seed, "dataset.input": input}
    recipe = load_recipe(recipe_path, host.registry, sets, overrides)
    root = recipe.root
    torch_device = resolve_device(root.device)
    if torch_device.type == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise FaceReconError("The recipe asks for device 'cuda' but no CUDA GPU is available here. Use --device cpu or auto.")
    builder = Builder(host.registry, torch_device, cache_dir(), recipe)
    builder("dataset")  # a missing input fails now, before the output folder exists or models load
    out = Path(root.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FaceReconError(f"Cannot create the output folder {out}: {exc.strerror or exc}. Pick another with --output.") from None
    resolved = resolved_tree(recipe, host.registry)
    outputs = OutputFolder(out, resolved)
    try:
        outputs.clean()
        write_resolved(recipe, host.registry, out / RESOLVED_NAME)
    except OSError as exc:
        raise FaceReconError(f"Cannot write into the output folder {out}: {exc.strerror or exc}. "
                             "Check its permissions and free space, or pick another with --output.") from None
    _seed_everything(root.seed)
    from .interfaces import RunContext

    task = builder("task")
    started = time.perf_counter()
    context = RunContext(recipe=recipe, build=builder, input=input, output=out, seed=root.seed, debug=debug,
                         outputs=outputs, host=host)
    try:
        with reproducible(torch_device):
            summary = task.run(context)
    finally:
        outputs.close()
    summary.seconds = summary.seconds or time.perf_counter() - started
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun the first process alone reports
        write_summary(summary, out)
        write_run_report(out)
    return summary


def write_run_report(folder: Path) -> list[Path]:
    """``report.html`` and ``contact_sheet.png`` of a finished run (:mod:`facerecon.report`); a
    report that cannot be written is a warning on stderr, never the run's failure."""
    from .report import write_report

    try:
        return write_report(folder)
    except Exception as exc:  # noqa: BLE001 - the results are written; the report is a view of them
        print(f"warning: the report of {folder} could not be written ({type(exc).__name__}: {exc}); "
              f"`facerecon report {folder}` tries again.", file=sys.stderr)
        return []


def write_summary(summary, folder: Path) -> None:
    """``summary.json`` (every item with its status, reason and numbers) and ``failures.csv``
    (the inputs that produced no result, with the reason) in ``folder``; a full disk is reported,
    not raised."""
    import csv
    import io
    import json

    items = [{"item": row.get("face", row.get("name", "")), **{k: v for k, v in row.items() if k != "outputs"}}
             for row in summary.rows]
    items += [{"item": item, "status": "failed", "reason": reason} for item, reason in summary.skipped]
    counts: dict[str, int] = {}
    for item in items:
        counts[item.get("status", "ok")] = counts.get(item.get("status", "ok"), 0) + 1
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["item", "reason"])
    writer.writerows(summary.skipped)
    try:
        with atomic_write(folder / "summary.json") as handle:
            json.dump({"seconds": round(summary.seconds, 2), "counts": counts, "items": items}, handle, indent=2,
                      default=str)
        with atomic_write(folder / "failures.csv") as handle:
            handle.write(table.getvalue())
    except OSError as exc:
        summary.skipped.append(("summary.json", f"could not be written: {exc.strerror or exc}"))
