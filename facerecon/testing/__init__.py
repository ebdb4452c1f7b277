"""Contract test suites for facerecon components, and small test scenes.

Plugin authors subclass the suite of their component's kind and provide a ``component``
fixture (the way Hydra ships launcher tests); facerecon runs the same suites over every
built-in component (``tests/plugins/test_contracts.py``)::

    import pytest
    from facerecon.api import build
    from facerecon.testing import LossContract

    class TestMyLoss(LossContract):
        @pytest.fixture
        def component(self, device):
            return build("loss", "my-loss", device=device)

Suites: :class:`ParamsContract` (any component's registration), :class:`TaskContract`,
:class:`EncoderContract`, :class:`MorphableModelContract`, :class:`ReflectanceContract`,
:class:`LightingContract`, :class:`RendererContract`, :class:`LossContract`,
:class:`FaceDetectorContract`, :class:`LandmarkDetectorContract`, :class:`DatasetContract`,
:class:`ExporterContract`, :class:`TextureDecoderContract` (``registry.kind(name).load_contract()`` gives the suite of any kind,
including kinds plugins add). :mod:`facerecon.testing.scenes` builds the inputs they use.
Components are built on ``$FACERECON_TEST_DEVICE`` (default ``cpu``) through the ``device``
fixture.
"""
import pytest

# The suites live in an installed package: ask pytest to rewrite their asserts too.
pytest.register_assert_rewrite(
    "facerecon.testing._base", "facerecon.testing.parameters", "facerecon.testing.rendering",
    "facerecon.testing.models", "facerecon.testing.losses", "facerecon.testing.data",
)

from ._base import DEVICE_ENV, ComponentContract, check_tensor, registry_of  # noqa: E402
from .data import (  # noqa: E402
    ASTRONAUT_FACE,
    DatasetContract,
    ExporterContract,
    FaceDetectorContract,
    LandmarkDetectorContract,
    TaskContract,
    astronaut,
)
from .losses import LossContract  # noqa: E402
from .models import EncoderContract, MorphableModelContract, TextureDecoderContract  # noqa: E402
from .parameters import ParamsContract  # noqa: E402
from .rendering import LightingContract, ReflectanceContract, RendererContract  # noqa: E402


__all__ = [
    "DEVICE_ENV", "ASTRONAUT_FACE", "astronaut", "check_tensor", "registry_of", "ComponentContract",
    "ParamsContract", "TaskContract", "EncoderContract", "MorphableModelContract", "ReflectanceContract",
    "LightingContract", "RendererContract", "LossContract", "FaceDetectorContract", "LandmarkDetectorContract",
    "DatasetContract", "ExporterContract", "TextureDecoderContract",
]
