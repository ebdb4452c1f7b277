"""What every contract suite shares: the device fixture, the interface check, tensor assertions."""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
import torch

__all__ = ["DEVICE_ENV", "ComponentContract", "check_tensor", "same_device", "registry_of"]

#: Environment variable naming the device contract suites build components on (default cpu).
DEVICE_ENV = "FACERECON_TEST_DEVICE"


def registry_of(component: Any):
    """The registry ``component`` was built from (its build context's), else the default host's."""
    context = getattr(component, "context", None)
    registry = getattr(context, "registry", None)
    if registry is None:
        from ..api import default_host

        registry = default_host().registry
    return registry


def same_device(a: torch.device, b: torch.device) -> bool:
    """Whether two devices are the same (``cuda`` and ``cuda:0`` count as one)."""
    a, b = torch.device(a), torch.device(b)
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def check_tensor(value: Any, name: str, shape: tuple[int, ...] | None = None, dtype: torch.dtype | None = None,
                 device: torch.device | None = None, finite: bool = True) -> torch.Tensor:
    """Assert ``value`` is a tensor with the given shape, dtype and device and finite values."""
    assert isinstance(value, torch.Tensor), f"{name} should be a torch.Tensor, got {type(value).__name__}"
    if shape is not None:
        assert tuple(value.shape) == tuple(shape), f"{name} should have shape {tuple(shape)}, got {tuple(value.shape)}"
    if dtype is not None:
        assert value.dtype == dtype, f"{name} should be {dtype}, got {value.dtype}"
    if device is not None:
        assert same_device(value.device, device), f"{name} should be on {device}, got {value.device}"
    if finite and value.is_floating_point():
        assert torch.isfinite(value).all(), f"{name} has non-finite values"
    return value


class ComponentContract:
    """Base of the per-kind contract suites.

    Subclasses set ``kind`` and a subclass in the plugin's tests provides the ``component``
    fixture (the built component). Build it on the ``device`` fixture to follow
    ``FACERECON_TEST_DEVICE`` (``cpu`` unless set, e.g. ``cuda``); inputs are made on
    ``component.device``.
    """

    kind: str = ""

    @pytest.fixture
    def device(self) -> torch.device:
        """The device to build components on: ``$FACERECON_TEST_DEVICE`` or cpu."""
        return torch.device(os.environ.get(DEVICE_ENV, "cpu"))

    def test_implements_interface(self, component):
        interface = registry_of(component).kind(self.kind).load_interface()
        assert isinstance(component, interface), (
            f"{type(component).__name__} should subclass {interface.__module__}.{interface.__name__}"
        )

    def test_keeps_params(self, component):
        params = component.params
        assert dataclasses.is_dataclass(params) and not isinstance(params, type), "component.params should be the params dataclass instance"
        assert params.__dataclass_params__.frozen, "params dataclasses must be frozen"
