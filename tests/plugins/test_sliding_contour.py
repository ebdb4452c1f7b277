"""The sliding jaw contour (facerecon.silhouette) on the real bfm-lite model and rasterizer: the
slid points lie on the rendered face's outline where the fixed vertices do not."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from facerecon.api import build
from facerecon.geometry import euler_to_matrix
from facerecon.pipeline import FacePipeline, FaceTargets
from facerecon.silhouette import SlidingContour

SIZE = 256
JAW = list(SlidingContour.JAW)


@pytest.fixture(scope="module")
def pipelines():
    parts = (build("morphable_model", "bfm-lite", texture_size=16), build("lighting", "sh"),
             build("reflectance", "lambertian"), build("renderer", "rasterizer"))
    return FacePipeline(*parts), FacePipeline(*parts, contour="sliding")


def values(pipeline, yaw_degrees: list[float], pitch_degrees: float = 0.0):
    """Mean faces 600 mm away, turned by each yaw, under a 1.4-crop-side focal."""
    batch = len(yaw_degrees)
    rotation = euler_to_matrix(torch.tensor([[math.pi + math.radians(pitch_degrees), math.radians(y), 0.0]
                                             for y in yaw_degrees]))
    return pipeline.layout.initial(batch, "cpu", focal=torch.full((batch,), 1.4 * SIZE), rotation=rotation)


def targets(batch: int) -> FaceTargets:
    return FaceTargets(torch.zeros(batch, SIZE, SIZE, 3), torch.full((batch, 2), SIZE / 2.0))


def test_lines_start_inside_the_cheek_and_end_at_the_fixed_vertex(pipelines):
    fixed, sliding = pipelines
    contour, model = sliding.contour, sliding.model
    assert contour.candidates.shape[0] == 17 and contour.candidates.shape[1] > 10
    assert torch.equal(contour.candidates[:, -1], model.landmarks[JAW])
    mean = model.shape(torch.zeros(1, model.n_identity), torch.zeros(1, model.n_expression))[0]
    inner = mean[contour.candidates[:, 0]]
    # the innermost candidate lies inwards of the fixed vertex along the line's outward direction
    along = ((inner - mean[model.landmarks[JAW]]) * contour.outward).sum(-1)
    assert (along < -20.0).all(), along


def test_a_frontal_face_keeps_its_fixed_contour(pipelines):
    fixed, sliding = pipelines
    with torch.no_grad():
        a = fixed.decode(values(fixed, [0.0]), targets(1), geometry=False, textures=False)
        b = sliding.decode(values(sliding, [0.0]), targets(1), geometry=False, textures=False)
    pixels = (a.camera.project(a.landmarks) - b.camera.project(b.landmarks)).norm(dim=-1)[0]
    # the cheeks' own outline lies at most a few pixels (~2 mm) out of the fixed vertices
    assert pixels[JAW].max() < 0.015 * SIZE, pixels[JAW]
    assert torch.equal(a.landmarks[:, 17:], b.landmarks[:, 17:])


def _distance_to_outline(render_mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixels from each (x, y) point to the boundary of the rendered face (positive inside)."""
    inside = ndimage.distance_transform_edt(render_mask)
    outside = ndimage.distance_transform_edt(~render_mask)
    field = inside - outside
    rows = np.clip(np.round(points[:, 1] - 0.5).astype(int), 0, render_mask.shape[0] - 1)
    cols = np.clip(np.round(points[:, 0] - 0.5).astype(int), 0, render_mask.shape[1] - 1)
    return field[rows, cols]


@pytest.mark.parametrize("yaw", [35.0, -35.0])
def test_a_turned_face_slides_its_far_contour_onto_the_outline(pipelines, yaw):
    fixed, sliding = pipelines
    with torch.no_grad():
        faces = sliding.decode(values(sliding, [yaw]), targets(1), textures=True)
        render = sliding.render(faces)
        fixed_faces = fixed.decode(values(fixed, [yaw]), targets(1), geometry=False, textures=False)
    mask = (render.triangle_id[0] >= 0).numpy()
    slid = faces.camera.project(faces.landmarks)[0, JAW].numpy()
    kept = fixed_faces.camera.project(fixed_faces.landmarks)[0, JAW].numpy()
    moved = np.linalg.norm(slid - kept, axis=1)
    far = [k for k in range(17) if moved[k] > 0.03 * SIZE]  # the cheek turning away
    assert len(far) >= 4 and (moved.max() > 0.05 * SIZE), moved
    # where the outline is the cheek's (not the neck's, below the chin, which the mesh also has)
    upper = [k for k in far if k <= 5 or k >= 11]
    on_outline = _distance_to_outline(mask, slid[upper])
    behind = _distance_to_outline(mask, kept[upper])
    assert len(upper) >= 4 and np.abs(on_outline).max() <= 3.0, on_outline
    assert behind.mean() > 8.0, behind


def test_sliding_is_the_same_without_the_full_mesh_and_carries_gradients(pipelines):
    _, sliding = pipelines
    start = values(sliding, [30.0, -20.0], pitch_degrees=10.0)
    start["expression"] = torch.full_like(start["expression"], 0.5).requires_grad_()
    start["identity"] = torch.full_like(start["identity"], -0.3).requires_grad_()
    full = sliding.decode(start, targets(2), geometry=True, textures=False)
    light = sliding.decode(start, targets(2), geometry=False, textures=False)
    assert torch.allclose(full.landmarks, light.landmarks, atol=1e-3)
    light.landmarks[:, JAW].sum().backward()
    assert start["identity"].grad.abs().sum() > 0 and start["expression"].grad.abs().sum() > 0
