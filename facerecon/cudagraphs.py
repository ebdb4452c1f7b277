"""CUDA graphs for inference code that launches many small kernels.

On a GPU each PyTorch operation is a kernel launch of some 5–20 µs, however little it computes. A
network's heads — a product, a scaling, then a camera's rotation and ray from a few numbers per face
— are dozens of such operations: at a small batch they cost more than a small encoder's forward
pass. Captured once as a CUDA graph, they replay as one launch.

:class:`CudaGraphed` wraps such a function. It replays a graph only where that is safe and useful:
on CUDA tensors, with autograd off (inference; training keeps the eager path and its gradients).
"""
from __future__ import annotations

import warnings
from typing import Callable

import torch

__all__ = ["CudaGraphed"]


class CudaGraphed:
    """Calls ``fn`` through a CUDA graph captured per input signature (module docstring).

    The first call with a given signature (shapes, dtypes, devices and keyword options of the
    inputs, and the addresses of ``module``'s parameters and buffers, so that moved or replaced
    weights are never read through a stale graph) runs ``fn`` a few times on a side stream (cuDNN
    autotuning, lazily made constants), then captures it. Later calls copy the inputs into the
    captured ones, replay the graph and return copies of its outputs. If a capture fails, a warning
    says why and every later call runs ``fn`` directly.

    Args:
        fn: ``fn(*tensors, **options) -> dict[str, Tensor]``. Its work must be capturable: no
            synchronisation with the host (``.item()``, ``.cpu()``, data-dependent shapes), no copies
            from host memory (constants made once, not per call), and the same operations for the
            same input shapes whatever the values.
        module: the module whose parameters ``fn`` reads (its weights are read in place at each
            replay, so an optimiser's in-place updates are seen).
        enabled: False always calls ``fn`` directly.
    """

    #: Eager runs on the side stream before a capture.
    WARMUP = 3

    def __init__(self, fn: Callable[..., dict[str, torch.Tensor]], module: torch.nn.Module | None = None,
                 enabled: bool = True) -> None:
        self.fn, self.module, self.enabled = fn, module, enabled
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[torch.Tensor], dict[str, torch.Tensor]]] = {}

    def __call__(self, *tensors: torch.Tensor, **options) -> dict[str, torch.Tensor]:
        if not self.enabled or torch.is_grad_enabled() or not tensors or not tensors[0].is_cuda:
            return self.fn(*tensors, **options)
        weights = () if self.module is None else tuple(
            t.data_ptr() for t in (*self.module.parameters(), *self.module.buffers()))
        key = (tuple((t.shape, t.dtype, t.device) for t in tensors), tuple(sorted(options.items())), weights)
        entry = self._graphs.get(key) or self._capture(key, tensors, options)
        if entry is None:
            return self.fn(*tensors, **options)
        graph, inputs, outputs = entry
        for captured, tensor in zip(inputs, tensors):
            captured.copy_(tensor)
        graph.replay()
        return {name: value.clone() for name, value in outputs.items()}

    def _capture(self, key: tuple, tensors: tuple[torch.Tensor, ...], options: dict):
        inputs = [t.clone() for t in tensors]
        side = torch.cuda.Stream(device=inputs[0].device)
        side.wait_stream(torch.cuda.current_stream(inputs[0].device))
        try:
            with torch.cuda.stream(side):
                for _ in range(self.WARMUP):
                    self.fn(*inputs, **options)
            torch.cuda.current_stream(inputs[0].device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                outputs = self.fn(*inputs, **options)
        except Exception as exc:  # noqa: BLE001 - any failure: run eagerly from now on, and say why
            self.enabled = False
            self._graphs.clear()
            name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
            warnings.warn(f"{name} could not be captured as a CUDA graph ({type(exc).__name__}: {exc}); "
                          "it runs without one.", RuntimeWarning, stacklevel=3)
            return None
        self._graphs[key] = (graph, inputs, outputs)
        return self._graphs[key]
