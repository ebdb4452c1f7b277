"""The contract suites themselves: they pass for correct components and catch broken ones.

The small components here are written from their definitions (a linear sky light, a Lambertian
BRDF, a mean loss, an atomic exporter); each broken variant changes one thing a suite promises
to catch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from facerecon import param
from facerecon.api import cache_dir
from facerecon.interfaces import BuildContext, Exporter, Lighting, Loss, Reflectance
from facerecon.io import atomic_write
from facerecon.testing import (
    ExporterContract,
    LightingContract,
    LossContract,
    MorphableModelContract,
    ReflectanceContract,
    scenes,
)


@dataclass(frozen=True)
class NoParams:
    """No parameters."""


@dataclass(frozen=True)
class WeightParams:
    """Just a weight."""

    weight: float = param(1.0, "Weight.")


def context(device="cpu") -> BuildContext:
    return BuildContext(torch.device(device), cache_dir(), build=None)


class LinearSky(Lighting):
    """L(ω) = a + b·up·ω with up = −y (camera frame): E(n) = π·a + (2π/3)·b·up·n exactly."""

    n_coeffs = 2
    linear_kernel = 2 * math.pi / 3

    def initial(self, batch):
        light = torch.zeros(batch, 2, 3, device=self.device)
        light[:, 0] = 1.0
        return light

    def _up(self, directions):
        return -directions[..., 1:2]

    def radiance(self, light, directions):
        return light[:, :1] + light[:, 1:] * self._up(directions)

    def irradiance(self, light, normals):
        return math.pi * light[:, :1] + self.linear_kernel * light[:, 1:] * self._up(normals)

    def environment_map(self, light, height, width):
        theta = (torch.arange(height, device=light.device) + 0.5) / height * math.pi
        phi = (torch.arange(width, device=light.device) + 0.5) / width * 2 * math.pi - math.pi
        t, p = torch.meshgrid(theta, phi, indexing="ij")
        dirs = torch.stack([t.sin() * p.sin(), -t.cos(), t.sin() * p.cos()], -1).reshape(1, -1, 3)
        return self.radiance(light, dirs.expand(light.shape[0], -1, -1)).reshape(-1, height, width, 3)


class WrongKernelSky(LinearSky):
    linear_kernel = math.pi  # forgets the cosine lobe's 2/3


class UpsideDownSky(LinearSky):
    def environment_map(self, light, height, width):
        return super().environment_map(light, height, width).flip(1)


class Diffuse(Reflectance):
    """ρ/π, shaded exactly with the light's irradiance."""

    brdf = "lambert"

    clamp = True

    def evaluate(self, normal, wi, wo, diffuse, specular, roughness):
        cos = (normal * wi).sum(-1, keepdim=True)
        return diffuse * (cos.clamp(min=0) if self.clamp else cos.abs()) / math.pi

    def shade(self, lighting, light, normal, wo, diffuse, specular, roughness):
        radiance = diffuse * lighting.irradiance(light, normal) / math.pi
        return {"radiance": radiance, "diffuse": radiance, "specular": torch.zeros_like(radiance)}


class TwoSidedDiffuse(Diffuse):
    clamp = False  # light from below the surface leaks through


class MeanLandmarkError(Loss):
    """Mean squared landmark distance over the points, per face."""

    def __call__(self, inputs):
        return (inputs.landmarks_pred - inputs.landmarks_target).pow(2).sum(-1).mean(-1)


class BatchMixingLandmarkError(Loss):
    """Wrong: each face's value is the batch mean, so faces are not independent."""

    def __call__(self, inputs):
        per_face = (inputs.landmarks_pred - inputs.landmarks_target).pow(2).sum(-1).mean(-1)
        return per_face.mean().expand_as(per_face)


class DetachedLoss(MeanLandmarkError):
    def __call__(self, inputs):
        return super().__call__(inputs).detach()


class TextExporter(Exporter):
    """Writes name.txt atomically."""

    def export(self, result, folder):
        path = Path(folder) / "name.txt"
        with atomic_write(path) as handle:
            handle.write(result.name)
        return [path]


class LeakyExporter(TextExporter):
    def export(self, result, folder):
        (Path(folder) / ".name.txt.tmp").write_text("half")
        return super().export(result, folder)


# -- correct components pass their suites --------------------------------------------------------
class TestSphereModel(MorphableModelContract):
    @pytest.fixture
    def component(self, device):
        return scenes.sphere_model(device)


class TestLinearSky(LightingContract):
    kind = "lighting"

    @pytest.fixture
    def component(self, device):
        return LinearSky(NoParams(), context(device))


class TestDiffuse(ReflectanceContract):
    @pytest.fixture
    def component(self, device):
        return Diffuse(NoParams(), context(device))

    @pytest.fixture
    def lighting(self, device):
        return LinearSky(NoParams(), context(device))


class TestMeanLandmarkError(LossContract):
    @pytest.fixture
    def component(self, device):
        return MeanLandmarkError(WeightParams(), context(device))


class TestTextExporter(ExporterContract):
    @pytest.fixture
    def component(self):
        return TextExporter(NoParams(), context())


# -- broken components fail the test that promises to catch them ----------------------------------
def test_wrong_irradiance_is_caught():
    with pytest.raises(AssertionError, match="irradiance differs from the integral of radiance"):
        LightingContract().test_irradiance_is_cosine_integral_of_radiance(WrongKernelSky(NoParams(), context()))


def test_flipped_environment_map_is_caught():
    with pytest.raises(AssertionError, match="row 0 of the environment map should look up"):
        LightingContract().test_environment_map_layout(UpsideDownSky(NoParams(), context()))


def test_light_from_below_is_caught():
    with pytest.raises(AssertionError, match="must be 0 for light arriving from below"):
        ReflectanceContract().test_zero_below_horizon(TwoSidedDiffuse(NoParams(), context()))


def test_shade_inconsistent_with_evaluate_is_caught():
    lighting = LinearSky(NoParams(), context())
    with pytest.raises(AssertionError, match="shade\\(\\) differs from the integral of evaluate"):
        ReflectanceContract().test_shade_matches_evaluate_integral(TwoSidedDiffuse(NoParams(), context()), lighting)


def test_loss_mixing_faces_is_caught():
    component = BatchMixingLandmarkError(WeightParams(), context())
    with pytest.raises(AssertionError, match="alone .* in a batch"):
        LossContract().test_faces_are_independent(component, scenes.loss_inputs())


def test_loss_without_gradient_is_caught():
    with pytest.raises(AssertionError, match="sends no gradient"):
        LossContract().test_gradients_flow(DetachedLoss(WeightParams(), context()), scenes.loss_inputs())


def test_loss_without_weight_is_caught():
    with pytest.raises(AssertionError, match="need a `weight: float` field"):
        LossContract().test_has_weight(MeanLandmarkError(NoParams(), context()))


def test_leftover_temporary_file_is_caught(tmp_path):
    with pytest.raises(AssertionError, match="files written but not reported"):
        ExporterContract().test_writes_reported_files(LeakyExporter(NoParams(), context()), scenes.face_result(), tmp_path)


def test_mirrored_model_is_caught():
    """A model whose x axis is flipped puts the subject's right eye at +x."""
    model = scenes.sphere_model()
    model.mean = model.mean * model.mean.new_tensor([-1.0, 1.0, 1.0])
    with pytest.raises(AssertionError, match="subject's right eye"):
        MorphableModelContract().test_millimetres_and_axes(model)


# -- the scenes -----------------------------------------------------------------------------------
def test_uv_sphere_is_closed_and_outward():
    vertices, faces, uvs = scenes.uv_sphere(16, 32)
    v0, v1, v2 = (vertices[faces[:, k]] for k in range(3))
    cross = torch.cross(v1 - v0, v2 - v0, dim=-1)
    assert ((cross * (v0 + v1 + v2)).sum(-1) > 0).all(), "every triangle faces outwards"
    area = cross.norm(dim=-1).sum() / 2
    assert 0.98 * 4 * math.pi < area < 4 * math.pi
    assert uvs.min() == 0 and uvs.max() == 1
    front = (vertices - vertices.new_tensor([0.0, 0.0, 1.0])).norm(dim=-1).argmin()
    assert torch.allclose(uvs[front], uvs.new_tensor([0.5, 0.5]))


def test_sphere_mesh_faces_the_camera():
    mesh = scenes.sphere_mesh(batch=2, shift=10.0)
    z = mesh.vertices[0, :, 2]
    assert z.min().item() == pytest.approx(420.0, abs=1e-3) and z.max().item() == pytest.approx(580.0, abs=1e-3)
    nearest = z.argmin()
    assert torch.allclose(mesh.normals[0, nearest], torch.tensor([0.0, 0.0, -1.0]), atol=1e-4)
    assert torch.allclose(mesh.vertices[1] - mesh.vertices[0], torch.tensor([10.0, 0.0, 0.0]).expand(mesh.vertices.shape[1], 3), atol=1e-4)


def test_ibug_template_sides():
    t = scenes.ibug68_template()
    assert t.shape == (68, 2)
    assert t[36:42, 0].mean() < 0 < t[42:48, 0].mean(), "subject's right eye on the image left"
    assert t[8, 1] == t[:, 1].max() and t[30, 0] == 0


def test_face_result_is_complete():
    result = scenes.face_result(image_size=48)
    assert result.image.shape == (48, 48, 3) and result.vertices.shape[1] == 3
    assert result.landmarks_fitted.shape == (68, 2) and result.envmap.shape == (16, 32, 3)
    assert {"render", "mask", "diffuse_shading"} <= set(result.renders)
    # landmark 30 (nose tip) projects to the image centre: the model's front faces the camera
    assert result.landmarks_fitted[30] == pytest.approx([24.0, 24.0], abs=1e-3)


def test_loss_inputs_leaves():
    inputs = scenes.loss_inputs(batch=3, image_size=16)
    leaves = scenes.grad_leaves(inputs)
    assert {"render.image", "landmarks_pred", "textures.diffuse", "coefficients.light"} <= set(leaves)
    assert inputs.render.image.shape == (3, 16, 16, 3) and inputs.landmarks_target.shape == (3, 68, 2)
    assert (inputs.textures.diffuse < 0).any() or (inputs.textures.diffuse > 1).any()
