"""Tests of the example plugin: facerecon's contract suites plus behaviour of our own.

Run with ``pytest`` from this folder (facerecon installed); the plugin loads from the source
tree through ``load_plugins(extra_modules=...)`` whether or not it is installed.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from facerecon.api import build
from facerecon.interfaces import LossInputs, RenderOutput
from facerecon.pluginmanager import load_plugins
from facerecon.testing import ExporterContract, LossContract, ParamsContract, scenes


@pytest.fixture(scope="module")
def host():
    """facerecon's plugins plus this one (a no-op addition when the entry point already loaded it)."""
    return load_plugins(extra_modules=["facerecon_example"])


class TestTotalVariationContract(LossContract):
    @pytest.fixture
    def component(self, host, device):
        return build("loss", "example-tv", device=device, host=host)


class TestXyzContract(ExporterContract):
    @pytest.fixture
    def component(self, host, device):
        return build("exporter", "xyz", device=device, host=host)


class TestParams(ParamsContract):
    @pytest.fixture(params=[("loss", "example-tv"), ("exporter", "xyz")])
    def spec(self, request, host):
        return host.registry.get(*request.param)

    @pytest.fixture
    def registry(self, host):
        return host.registry


def _inputs(image: torch.Tensor, mask: torch.Tensor) -> LossInputs:
    zeros = torch.zeros(mask.shape)
    render = RenderOutput(image=image, mask=mask, depth=zeros, normals=torch.zeros(image.shape),
                          uv=torch.zeros(*mask.shape, 2), triangle_id=torch.full(mask.shape, -1))
    return LossInputs(render=render)


def test_tv_of_a_constant_image_is_zero(host):
    loss = build("loss", "example-tv", host=host)
    assert loss(_inputs(torch.full((1, 8, 8, 3), 0.7), torch.ones(1, 8, 8))).item() == 0.0


def test_tv_of_stripes_inside_the_mask(host):
    """Vertical stripes 0/1: every horizontal pair differs by 1, no vertical pair differs."""
    image = (torch.arange(8) % 2).float().view(1, 1, 8, 1).expand(1, 8, 8, 3)
    full = torch.ones(1, 8, 8)
    l1 = build("loss", "example-tv", host=host)
    # 8 rows x 7 horizontal pairs differ by 1; 7 x 8 vertical pairs are equal.
    assert l1(_inputs(image, full)).item() == pytest.approx(56 / 112)
    # Outside the mask nothing counts: a single covered column has only vertical pairs.
    column = torch.zeros(1, 8, 8)
    column[..., 3] = 1
    assert l1(_inputs(image, column)).item() == 0.0


def test_xyz_round_trip(host, tmp_path):
    result = scenes.face_result()
    exporter = build("exporter", "xyz", host=host, precision=6)
    (path,) = exporter.export(result, tmp_path)
    table = np.loadtxt(path)
    assert table.shape == (len(result.vertices), 6)
    np.testing.assert_allclose(table[:, :3], result.vertices, atol=1e-5)
    np.testing.assert_allclose(table[:, 3:], result.normals, atol=1e-5)


def test_xyz_without_normals(host, tmp_path):
    exporter = build("exporter", "xyz", host=host, normals=False, filename="points")
    (path,) = exporter.export(scenes.face_result(), tmp_path)
    assert path.name == "points.xyz" and np.loadtxt(path).shape[1] == 3
