"""Runs the :mod:`facerecon.testing` contract suites over every registered built-in component.

Components are parametrised from the registry at collection time, so a newly registered
component is covered without editing this file. A component that cannot be built here (a
licensed model file or a system library is missing) is skipped with its own explanation.
"""
from __future__ import annotations

import pytest

from facerecon import testing as contracts
from facerecon.api import cache_dir
from facerecon.errors import FaceReconError
from facerecon.pluginmanager import load_plugins
from facerecon.recipe.build import Builder

REGISTRY = load_plugins().registry  # built-ins only: tests/conftest.py disables autoload

#: Smaller settings for components whose defaults are slow on a CPU (only fields that exist are used).
FAST_PARAMS: dict[tuple[str, str], dict] = {
    ("encoder", "timm"): {"backbone": "resnet18", "out_features": 32, "input_size": 64},
    ("dataset", "synthetic-faces"): {"count": 2, "spp": 2,
                                     "draw": {"image_size": [96, 96], "face_px": [60, 70], "texture_size": 64}},
}

#: Contract class attributes per component (e.g. the noise of a path tracer).
SETTINGS: dict[tuple[str, str], dict] = {
    ("renderer", "mitsuba"): {"noise_tolerance": 0.02, "furnace_rtol": 0.05},
    # redner draws new samples on every call (as NextFace does): two renders differ by ~0.006.
    ("renderer", "redner"): {"noise_tolerance": 0.02},
}

_built: dict[tuple[str, str, str], object] = {}


def _names(kind: str) -> list:
    names = REGISTRY.names(kind)
    return names or [pytest.param(None, marks=pytest.mark.skip(reason=f"no {kind} is registered yet"))]


def _build(kind: str, name: str, device):
    """Build (once per session) a built-in component with its defaults, or skip saying why it cannot be."""
    key = (kind, name, str(device))
    if key not in _built:
        fields = REGISTRY.get(kind, name).params.__dataclass_fields__
        params = {k: v for k, v in FAST_PARAMS.get((kind, name), {}).items() if k in fields}
        try:
            _built[key] = Builder(REGISTRY, device, cache_dir()).build_node(kind, {"type": name, **params})
        except (FaceReconError, FileNotFoundError) as exc:
            _built[key] = exc
    component = _built[key]
    if isinstance(component, Exception):
        pytest.skip(f"{kind} '{name}' cannot be built here: {component}")
    return component


def _component_fixture(kind: str):
    @pytest.fixture(params=_names(kind))
    def component(self, request, device):
        for attribute, value in SETTINGS.get((kind, request.param), {}).items():
            setattr(self, attribute, value)
        return _build(kind, request.param, device)

    return component


class TestParams(contracts.ParamsContract):
    @pytest.fixture(params=[f"{s.kind}/{s.name}" for s in REGISTRY])
    def spec(self, request):
        return REGISTRY.get(*request.param.split("/"))

    @pytest.fixture
    def registry(self):
        return REGISTRY


class TestTasks(contracts.TaskContract):
    @pytest.fixture(params=_names("task"))
    def spec(self, request):
        return REGISTRY.get("task", request.param)

    @pytest.fixture
    def component(self, spec, device):
        return _build("task", spec.name, device)


class TestEncoders(contracts.EncoderContract):
    component = _component_fixture("encoder")


class TestTextureDecoders(contracts.TextureDecoderContract):
    component = _component_fixture("texture_decoder")


class TestMorphableModels(contracts.MorphableModelContract):
    component = _component_fixture("morphable_model")


class TestReflectance(contracts.ReflectanceContract):
    component = _component_fixture("reflectance")


class TestLighting(contracts.LightingContract):
    component = _component_fixture("lighting")


class TestRenderers(contracts.RendererContract):
    component = _component_fixture("renderer")


class TestLosses(contracts.LossContract):
    component = _component_fixture("loss")


class TestFaceDetectors(contracts.FaceDetectorContract):
    component = _component_fixture("face_detector")


class TestLandmarkDetectors(contracts.LandmarkDetectorContract):
    component = _component_fixture("landmark_detector")


class TestDatasets(contracts.DatasetContract):
    component = _component_fixture("dataset")


class TestExporters(contracts.ExporterContract):
    component = _component_fixture("exporter")
