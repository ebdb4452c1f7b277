"""Optimising per-face parameters stage by stage (the ``fit`` task, test-time refinement).

A recipe stage (:class:`facerecon.recipe.Stage`) names the groups it frees, the learning rate,
per-group multipliers and delays, and its losses. :func:`run_stage` runs it on a batch of faces
held in :class:`LeafParameters`, with the batched :class:`facerecon.pipeline.FacePipeline`.

Faces never interact: each face's objective is the weighted sum of its own loss values, the
batch objective is their sum, and Adam updates every scalar on its own, so a face fitted in a
batch moves as it would alone. A face whose objective or parameters stop being finite, or whose
head goes behind the camera, is stopped at its last good state and reported as diverged; the
others go on. Loss histories stay on the device and are read once per stage.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm import tqdm

from .layout import ParameterLayout
from .pipeline import FacePipeline, FaceTargets

__all__ = ["LeafParameters", "StageHistory", "run_stage", "MIN_DEPTH_MM"]

#: A head whose translation z falls below this (mm) is behind or inside the camera: diverged.
MIN_DEPTH_MM = 50.0


class LeafParameters:
    """The free values of every group for B faces, as leaf tensors an optimiser moves.

    Args:
        layout: the parameter layout.
        physical: physical initial values of every group (B leading), e.g. from
            :meth:`ParameterLayout.initial`.
    """

    def __init__(self, layout: ParameterLayout, physical: dict[str, torch.Tensor]) -> None:
        self.layout = layout
        self.free = {name: value.detach().clone().requires_grad_(False)
                     for name, value in layout.to_free(physical).items()}

    @property
    def batch(self) -> int:
        """B."""
        return int(next(iter(self.free.values())).shape[0])

    def physical(self) -> dict[str, torch.Tensor]:
        """Physical values of every group, differentiable w.r.t. the leaves."""
        return self.layout.to_physical(self.free)

    def face(self, index: int) -> dict[str, torch.Tensor]:
        """Detached physical values of face ``index``, batch of one."""
        with torch.no_grad():
            return self.layout.to_physical({name: value[index:index + 1] for name, value in self.free.items()})


@dataclass
class StageHistory:
    """What a stage did, per face, read back once at its end.

    Attributes:
        totals: (steps, B) weighted objective per step and face.
        terms: weighted value of each named loss, (steps, B).
        diverged_at: (B,) step at which a face diverged, -1 for faces that did not.
        reasons: face index -> why it diverged.
        seconds: wall time of the stage.
    """

    totals: torch.Tensor
    terms: dict[str, torch.Tensor]
    diverged_at: torch.Tensor
    reasons: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0

    def face(self, index: int) -> list[float]:
        """Face ``index``'s objective per step."""
        return self.totals[:, index].tolist()


def _broadcast(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, *[1] * (like.dim() - 1))


def run_stage(
    stage: Any,
    parameters: LeafParameters,
    pipeline: FacePipeline,
    targets: FaceTargets,
    losses: dict[str, Any],
    renderer: Any = None,
    alive: torch.Tensor | None = None,
    label: str = "",
) -> StageHistory:
    """Run one stage: ``stage.steps`` Adam steps on the groups in ``stage.free`` (aliases such as
    ``pose`` expanded), learning rate ``stage.lr`` × ``stage.lr_scale[group]``; a group in
    ``stage.delay`` receives no update before its delay.

    Args:
        stage: a :class:`facerecon.recipe.Stage` (steps, lr, free, lr_scale, delay).
        parameters: the faces' parameters, updated in place.
        pipeline: decodes, renders and assembles loss inputs.
        targets: what the faces are fitted to.
        losses: built loss components by name (their ``weight`` is applied here).
        renderer: the stage's renderer, or None for the pipeline's.
        alive: (B,) bool, faces still being fitted; updated in place when a face diverges.
        label: shown on the progress bar.
    """
    started = time.perf_counter()
    layout = parameters.layout
    device = targets.image.device
    batch = parameters.batch
    alive = torch.ones(batch, dtype=torch.bool, device=device) if alive is None else alive
    free = layout.expand(stage.free)
    scales = {group: scale for name, scale in stage.lr_scale.items() for group in layout.expand([name])}
    delays = {group: steps for name, steps in stage.delay.items() for group in layout.expand([name])}
    for name, tensor in parameters.free.items():  # frozen groups get no gradient at all (and cost none)
        tensor.requires_grad_(name in free)
    optimiser = None
    if free:
        optimiser = torch.optim.Adam([{"params": [parameters.free[g]], "lr": stage.lr * scales.get(g, 1.0)} for g in free],
                                     lr=stage.lr)
    need_render = any(getattr(loss, "needs_render", False) for loss in losses.values())
    need_textures = need_render or any(g in free for g in ("textures", "albedo"))
    steps = int(stage.steps)
    totals = torch.zeros(steps, batch, device=device)
    terms = {key: torch.zeros(steps, batch, device=device) for key in losses}
    diverged_at = torch.full((batch,), -1, dtype=torch.long, device=device)
    good = {g: parameters.free[g].detach().clone() for g in free}
    bar = tqdm(range(steps), desc=label, leave=False, dynamic_ncols=True,
               disable=None)  # a bar on terminals, nothing in logs and pipes
    for step in bar:
        inputs = pipeline(parameters.physical(), targets, render=need_render, renderer=renderer, textures=need_textures)
        total = torch.zeros(batch, device=device)
        for key, loss in losses.items():
            term = loss.weight * loss(inputs)
            terms[key][step] = term.detach()
            total = total + term
        totals[step] = total.detach()
        finite = torch.isfinite(total)
        if optimiser is not None:
            optimiser.zero_grad(set_to_none=True)
            objective = torch.where(alive & finite, total, torch.zeros_like(total)).sum()
            if objective.requires_grad:
                objective.backward()
            with torch.no_grad():
                for group in free:
                    tensor = parameters.free[group]
                    if tensor.grad is None:
                        continue
                    keep = alive & finite & (step >= delays.get(group, 0))
                    tensor.grad = torch.where(_broadcast(keep, tensor.grad), tensor.grad, torch.zeros_like(tensor.grad))
            optimiser.step()
        with torch.no_grad():
            ok = finite.clone()
            for group in free:
                ok &= torch.isfinite(parameters.free[group].reshape(batch, -1)).all(1)
            if "translation" in parameters.free:
                depth = layout["translation"].space.to_physical(parameters.free["translation"])[:, 2]
                ok &= depth > MIN_DEPTH_MM
            newly = alive & ~ok
            diverged_at = torch.where(newly, torch.full_like(diverged_at, step), diverged_at)
            alive &= ok
            for group in free:  # stopped faces go back to their last good state; good ones advance it
                tensor = parameters.free[group]
                mask = _broadcast(alive, tensor)
                good[group] = torch.where(mask, tensor.detach(), good[group])
                tensor.data.copy_(good[group])
        if not bar.disable and (step % 25 == 0 or step == steps - 1):
            bar.set_postfix(loss=f"{float(totals[step][alive].mean()) if alive.any() else float('nan'):.4g}")
    bar.close()
    for tensor in parameters.free.values():
        tensor.requires_grad_(False)
        tensor.grad = None
    history = StageHistory(totals=totals.cpu(), terms={k: v.cpu() for k, v in terms.items()},
                           diverged_at=diverged_at.cpu(), seconds=time.perf_counter() - started)
    for index in torch.nonzero(history.diverged_at >= 0).flatten().tolist():
        history.reasons[index] = _reason(history, index)
    return history


def _reason(history: StageHistory, index: int) -> str:
    step = int(history.diverged_at[index])
    value = float(history.totals[step, index])
    if not torch.isfinite(torch.tensor(value)):
        return f"the objective became {value} at step {step}"
    return (f"the fit diverged at step {step} (parameters not finite, or the head went behind the camera: "
            f"translation z below {MIN_DEPTH_MM:g} mm)")
