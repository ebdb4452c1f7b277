"""Contract suite of loss terms."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from ..interfaces import LossInputs
from . import scenes
from ._base import ComponentContract, check_tensor

__all__ = ["LossContract"]


class LossContract(ComponentContract):
    """Losses: one finite float32 value per face, (B,), on the component's device, with gradients.

    Provide ``component``. ``inputs`` defaults to :func:`facerecon.testing.scenes.loss_inputs`
    (every field of :class:`LossInputs` filled, on the sphere morphable model); override it when
    the loss needs ``extras`` or a particular model.
    """

    kind = "loss"

    @pytest.fixture
    def inputs(self, component) -> LossInputs:
        """Full loss inputs on the component's device."""
        return scenes.loss_inputs(device=component.device)

    def test_has_weight(self, component):
        names = {f.name for f in dataclasses.fields(component.params)}
        assert "weight" in names, "loss params need a `weight: float` field (the stage multiplies by it)"
        assert isinstance(component.weight, float)

    def test_returns_one_finite_value_per_face(self, component, inputs):
        value = component(inputs)
        batch = int(inputs.target.shape[0])
        check_tensor(value, "loss", (batch,), torch.float32, component.device)

    def test_gradients_flow(self, component, inputs):
        leaves = scenes.grad_leaves(inputs)
        value = component(inputs)
        assert value.requires_grad, "the loss sends no gradient to any of its inputs (its value is detached)"
        value.sum().backward()
        reached = [name for name, leaf in leaves.items() if leaf.grad is not None and leaf.grad.abs().sum() > 0]
        assert reached, "the loss sends no gradient to any of its inputs"
        for name, leaf in leaves.items():
            assert leaf.grad is None or torch.isfinite(leaf.grad).all(), f"non-finite gradient w.r.t. {name}"

    def test_faces_are_independent(self, component, inputs):
        """Each face's value is that face's loss alone: a batch of two different faces gives, per
        face, the value of the face evaluated by itself."""
        two = scenes.loss_inputs(batch=2, device=component.device, seed=3)
        both = component(two).detach()
        for index in range(2):
            alone = component(_select(two, index)).detach()
            assert alone.shape == (1,), f"loss of one face has shape {tuple(alone.shape)}, expected (1,)"
            a, b = float(alone[0]), float(both[index])
            assert abs(a - b) <= 1e-4 * max(1.0, abs(a)), f"face {index}: alone {a:.6g}, in a batch {b:.6g}"
        repeated = component(_repeat(_select(two, 0), 2)).detach()
        assert torch.allclose(repeated[0], repeated[1], rtol=1e-5, atol=1e-6), "identical faces give different losses"


def _map_batch(inputs: LossInputs, fn) -> LossInputs:
    """``inputs`` with ``fn`` applied to every batched tensor (the model is shared, not batched)."""
    def rep(value):
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return fn(value.detach())
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return type(value)(**{f.name: rep(getattr(value, f.name)) for f in dataclasses.fields(value)})
        if isinstance(value, dict):
            return {k: rep(v) for k, v in value.items()}
        return value

    fields = {f.name: getattr(inputs, f.name) for f in dataclasses.fields(inputs)}
    return LossInputs(**{name: value if name == "model" else rep(value) for name, value in fields.items()})


def _repeat(inputs: LossInputs, times: int) -> LossInputs:
    """``inputs`` with every batched tensor repeated ``times`` along the batch dimension."""
    return _map_batch(inputs, lambda t: t.repeat(times, *[1] * (t.dim() - 1)))


def _select(inputs: LossInputs, index: int) -> LossInputs:
    """Face ``index`` of ``inputs`` as a batch of one."""
    return _map_batch(inputs, lambda t: t[index:index + 1])
