"""Runs a recipe: validate, prepare the output folder, build the task, run it, summarise."""
from __future__ import annotations

import random
import time
from pathlib import Path

from .api import cache_dir, resolve_device
from .errors import FaceReconError
from .pluginmanager import PluginHost
from .recipe import Builder, load_recipe, write_resolved

__all__ = ["run_recipe", "RESOLVED_NAME"]

RESOLVED_NAME = "recipe.resolved.yaml"


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
    The fully resolved recipe is written to ``<output>/recipe.resolved.yaml`` before work starts.
    """
    overrides = {"output": output, "device": device, "seed": seed, "dataset.input": input}
    recipe = load_recipe(recipe_path, host.registry, sets, overrides)
    root = recipe.root
    out = Path(root.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FaceReconError(f"Cannot create the output folder {out}: {exc.strerror or exc}. Pick another with --output.") from None
    write_resolved(recipe, host.registry, out / RESOLVED_NAME)
    torch_device = resolve_device(root.device)
    if torch_device.type == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise FaceReconError("The recipe asks for device 'cuda' but no CUDA GPU is available here. Use --device cpu or auto.")
    _seed_everything(root.seed)
    from .interfaces import RunContext

    builder = Builder(host.registry, torch_device, cache_dir(), recipe)
    task = builder("task")
    started = time.perf_counter()
    summary = task.run(RunContext(recipe=recipe, build=builder, input=input, output=out, seed=root.seed, debug=debug,
                                   host=host))
    summary.seconds = summary.seconds or time.perf_counter() - started
    return summary
