"""Pieces every benchmark shares: the benchmark mesh and the timer."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

__all__ = ["face_mesh", "time_call"]


def face_mesh(device: torch.device) -> tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The bfm-lite mean face: (name, (V, 3) model-frame vertices in mm, (F, 3) faces, (V, 2) uvs).

    Falls back to a UV sphere of similar size and triangle count when the model cannot be built.
    """
    try:
        from facerecon.api import build

        model = build("morphable_model", "bfm-lite", device=str(device))
        shape = model.shape(torch.zeros(1, model.n_identity, device=device),
                            torch.zeros(1, model.n_expression, device=device))[0]
        return "bfm-lite", shape, model.faces, model.uvs
    except Exception as exc:  # the benchmark still runs without the model
        from facerecon.testing.scenes import uv_sphere

        print(f"   bfm-lite unavailable ({type(exc).__name__}: {exc}); using a UV sphere", flush=True)
        vertices, faces, uvs = uv_sphere(224, 224)
        return "uv-sphere", (vertices * 90.0).to(device), faces.to(device), uvs.to(device)


def time_call(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, float, float]:
    """(first call, fastest, median of ``repeats`` further calls) wall time of ``fn`` in seconds,
    synchronising CUDA around each call."""
    def once() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    first = once()
    times = [once() for _ in range(repeats)]
    return first, min(times), statistics.median(times)
