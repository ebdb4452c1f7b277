"""Running one recipe stage: Adam over the freed groups, minimising the weighted losses."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import torch
from tqdm import tqdm

from facerecon.geometry import vertex_normals
from facerecon.interfaces import Camera, LossInputs, Mesh, RenderOutput, Scene, Textures

from .variables import FaceVariables

__all__ = ["FitTarget", "StageResult", "run_stage", "evaluate"]


@dataclass
class FitTarget:
    """What one face is fitted to (all in crop pixels).

    Attributes:
        image: (1, S, S, 3) linear crop of the photo.
        landmarks: (1, 68, 2) detected landmarks.
        camera_principal: (1, 2) principal point of the photo's camera in crop pixels.
    """

    image: torch.Tensor
    landmarks: torch.Tensor
    camera_principal: torch.Tensor


@dataclass
class StageResult:
    """Loss history of a stage: totals and each named term (weighted) per step."""

    totals: list[float]
    terms: dict[str, list[float]]


@dataclass
class Components:
    """The built recipe components a fit uses."""

    model: Any
    lighting: Any
    reflectance: Any
    renderer: Any

    @functools.cached_property
    def face_triangles(self) -> torch.Tensor:
        """(F,) float: 1 for triangles whose three vertices are in the model's face region."""
        return self.model.face_mask[self.model.faces].all(-1).float()




def evaluate(
    variables: FaceVariables,
    components: Components,
    target: FitTarget,
    renderer=None,
    need_render: bool = True,
) -> LossInputs:
    """One forward pass: geometry, optional render, landmarks; returns the loss inputs."""
    model = components.model
    size = target.image.shape[2]
    camera = Camera(focal=variables.focal, width=size, height=target.image.shape[1],
                    principal=target.camera_principal)
    render: RenderOutput | None = None
    region = None
    base = variables.base_textures()
    textures = variables.textures(base)
    if need_render:
        vertices = variables.camera_vertices()
        landmarks = vertices[:, model.landmarks]
        mesh = Mesh(vertices=vertices, faces=model.faces, uvs=model.uvs, normals=vertex_normals(vertices, model.faces))
        scene = Scene(mesh=mesh, camera=camera, textures=textures, light=variables.light,
                      lighting=components.lighting, reflectance=components.reflectance)
        render = (renderer or components.renderer).render(scene)
        tri = render.triangle_id
        region = components.face_triangles[tri.clamp(min=0)] * (tri >= 0).float()
    else:
        landmarks = variables.camera_vertices(model.landmarks)
    return LossInputs(
        target=target.image,
        render=render,
        region=region,
        landmarks_target=target.landmarks,
        landmarks_pred=camera.project(landmarks),
        coefficients=variables.coefficients(),
        textures=textures,
        base_textures=_detached(base),
        model=model,
    )


def _detached(textures: Textures) -> Textures:
    return Textures(textures.diffuse.detach(), textures.specular.detach(), textures.roughness.detach())


def run_stage(
    name: str,
    stage,
    variables: FaceVariables,
    components: Components,
    target: FitTarget,
    build: Callable[[Any], Any],
    label: str = "",
) -> StageResult:
    """Optimise the stage's free groups for ``stage.steps`` Adam steps (learning rate ``stage.lr``
    times ``stage.lr_scale[group]``).

    Groups in ``stage.delay`` receive no update before their delay (their gradients are zeroed,
    and Adam moves nothing with zero moments).
    """
    losses = {key: build(node) for key, node in stage.losses.items()}
    renderer = build(stage.renderer) if stage.renderer is not None else None
    need_render = any(loss.needs_render for loss in losses.values())
    groups = variables.groups()
    for group, tensors in groups.items():  # frozen groups get no gradient at all (and cost none)
        for tensor in tensors:
            tensor.requires_grad_(group in stage.free)
    params = [t for group in stage.free for t in groups[group]]
    param_groups = [{"params": groups[group], "lr": stage.lr * stage.lr_scale.get(group, 1.0)}
                    for group in stage.free if groups[group]]
    optimiser = torch.optim.Adam(param_groups, lr=stage.lr) if param_groups else None
    delayed = {group: steps for group, steps in stage.delay.items() if group in stage.free}
    result = StageResult(totals=[], terms={key: [] for key in losses})
    # disable=None: a bar on terminals, nothing in logs and pipes.
    bar = tqdm(range(stage.steps), desc=f"{label} {name}".strip(), leave=False, dynamic_ncols=True, disable=None)
    for step in bar:
        for tensor in params:
            tensor.grad = None
        inputs = evaluate(variables, components, target, renderer, need_render)
        total = torch.zeros((), device=target.image.device)
        for key, loss in losses.items():
            term = (loss.weight * loss(inputs)).sum()
            result.terms[key].append(float(term.detach()))
            total = total + term
        if total.requires_grad and params:
            total.backward()
        for group, delay in delayed.items():
            if step < delay:
                for tensor in groups[group]:
                    tensor.grad = None
        if optimiser is not None:
            optimiser.step()
        value = float(total.detach())
        result.totals.append(value)
        if step % 10 == 0 or step == stage.steps - 1:
            bar.set_postfix(loss=f"{value:.4g}")
    bar.close()
    return result
