"""The groups a model's or a lighting's params declare for validation are those its built
component lays out at run time (``parameter_layout()``)."""
from __future__ import annotations

import pytest

from facerecon.api import build
from facerecon.errors import FaceReconError
from facerecon.pluginmanager import load_plugins

REGISTRY = load_plugins().registry
CASES = [(kind, name, params) for kind in ("morphable_model", "lighting") for name in REGISTRY.names(kind)
         for params in ({}, {"n_albedo": 0}) if not params or "n_albedo" in REGISTRY.get(kind, name).params.__dataclass_fields__]


@pytest.mark.parametrize("kind, name, params", CASES, ids=[f"{k}-{n}-{p}" for k, n, p in CASES])
def test_declared_groups_match_the_layout(kind, name, params):
    spec = REGISTRY.get(kind, name)
    declared = spec.params(**params).parameter_groups()
    try:
        component = build(kind, name, **params)
    except (FaceReconError, FileNotFoundError) as exc:
        pytest.skip(f"{kind} '{name}' cannot be built here: {exc}")
    assert list(declared) == component.parameter_layout().names()
