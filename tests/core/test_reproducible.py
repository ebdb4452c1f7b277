"""facerecon.runner.reproducible: deterministic algorithms on a CPU for the length of a run, and
the caller's settings restored afterwards (the fit that needs it: tests/plugins/test_fit_synthetic.py)."""
from __future__ import annotations

import pytest
import torch
import torch.utils.deterministic

from facerecon.runner import reproducible


def test_cpu_runs_use_deterministic_algorithms_and_restore_the_settings():
    before = (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory)
    with reproducible(torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.utils.deterministic.fill_uninitialized_memory
        # The operation that varied: accumulating writes through an index, on several threads.
        # (Without the mode, two threads gave four different gradients in five passes.)
        generator = torch.Generator().manual_seed(0)
        values = torch.randn(1000, 3, requires_grad=True, generator=generator)
        index = torch.randint(0, 1000, (2_000_000,), generator=generator)
        weights = torch.randn(2_000_000, 3, generator=generator)
        grads = []
        for _ in range(3):
            values.grad = None
            (values[index] * weights).sum().backward()
            grads.append(values.grad.clone())
        assert all(torch.equal(grads[0], g) for g in grads[1:])
    assert (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory) == before


def test_settings_are_restored_when_the_run_fails():
    with pytest.raises(RuntimeError, match="stop"):
        with reproducible(torch.device("cpu")):
            raise RuntimeError("stop")
    assert not torch.are_deterministic_algorithms_enabled()


def test_other_devices_are_left_as_they_are():
    with reproducible(torch.device("meta")):
        assert not torch.are_deterministic_algorithms_enabled()
