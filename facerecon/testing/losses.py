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
    """Losses: a finite 0-dim float32 tensor on the component's device, with gradients.

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

    def test_returns_finite_scalar(self, component, inputs):
        value = component(inputs)
        check_tensor(value, "loss", (), torch.float32, component.device)

    def test_gradients_flow(self, component, inputs):
        leaves = scenes.grad_leaves(inputs)
        value = component(inputs)
        assert value.requires_grad, "the loss sends no gradient to any of its inputs (its value is detached)"
        value.backward()
        reached = [name for name, leaf in leaves.items() if leaf.grad is not None and leaf.grad.abs().sum() > 0]
        assert reached, "the loss sends no gradient to any of its inputs"
        for name, leaf in leaves.items():
            assert leaf.grad is None or torch.isfinite(leaf.grad).all(), f"non-finite gradient w.r.t. {name}"

    def test_batch_mean_scale(self, component, inputs):
        """The loss of a batch of identical items equals the loss of one (no sum over the batch)."""
        one = scenes.loss_inputs(batch=1, device=component.device)
        two = _repeat(one, 2)
        a, b = component(one).item(), component(two).item()
        assert abs(a - b) <= 1e-4 * max(1.0, abs(a)), f"loss of 1 item {a:.6g} vs 2 identical items {b:.6g}"


def _repeat(inputs: LossInputs, times: int) -> LossInputs:
    """``inputs`` with every batched tensor repeated ``times`` along the batch dimension."""
    def rep(value):
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return value.detach().repeat(times, *[1] * (value.dim() - 1))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return type(value)(**{f.name: rep(getattr(value, f.name)) for f in dataclasses.fields(value)})
        if isinstance(value, dict):
            return {k: rep(v) for k, v in value.items()}
        return value

    return LossInputs(
        target=rep(inputs.target), render=rep(inputs.render), region=rep(inputs.region),
        landmarks_target=rep(inputs.landmarks_target), landmarks_pred=rep(inputs.landmarks_pred),
        coefficients=rep(inputs.coefficients), textures=rep(inputs.textures),
        base_textures=rep(inputs.base_textures), model=inputs.model, extras=rep(inputs.extras),
    )
