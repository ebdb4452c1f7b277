"""The contract every registered component's parameters follow, whatever its kind."""
from __future__ import annotations

import dataclasses
import typing

import pytest
import yaml

from ..params import field_doc, is_required
from ..recipe.resolve import to_plain
from ..recipe.validate import Validator, describe_type
from ..registry import ComponentSpec

__all__ = ["ParamsContract"]


class ParamsContract:
    """Checks a component's registration: documented frozen params that recipes can express.

    Provide the ``spec`` fixture (``registry.get(kind, name)``); override ``registry`` when the
    component's parameters nest components from a registry other than the default one::

        class TestMyLossParams(ParamsContract):
            @pytest.fixture
            def spec(self, registry):
                return registry.get("loss", "my-loss")
    """

    @pytest.fixture
    def registry(self):
        """The registry of :func:`facerecon.api.default_host`."""
        from ..api import default_host

        return default_host().registry

    def test_kind_known_and_summary(self, spec: ComponentSpec, registry):
        assert spec.kind in registry.kinds, f"unknown kind {spec.kind!r}"
        assert spec.summary.strip(), f"{spec.kind} {spec.name!r} is registered without a summary"

    def test_params_frozen_dataclass(self, spec: ComponentSpec):
        assert dataclasses.is_dataclass(spec.params) and isinstance(spec.params, type)
        assert spec.params.__dataclass_params__.frozen, f"{spec.params.__name__} must be frozen"

    def test_params_class_documented(self, spec: ComponentSpec):
        doc = (spec.params.__doc__ or "").strip()
        assert doc and not doc.startswith(spec.params.__name__ + "("), (
            f"{spec.params.__name__} needs a docstring (facerecon describe prints it)"
        )

    def test_every_field_documented(self, spec: ComponentSpec):
        missing = [f.name for f in dataclasses.fields(spec.params) if not field_doc(f).strip()]
        assert not missing, f"{spec.params.__name__}: fields without a doc (use param(default, 'doc')): {missing}"

    def test_types_resolve(self, spec: ComponentSpec):
        hints = typing.get_type_hints(spec.params, include_extras=True)
        for f in dataclasses.fields(spec.params):
            assert f.name in hints, f"{spec.params.__name__}.{f.name} has no type annotation"
            assert describe_type(hints[f.name])

    def test_defaults_validate(self, spec: ComponentSpec, registry):
        """A node with only ``type`` validates, except for the required parameters it lacks."""
        validator = Validator(registry, {}, "<defaults>")
        node = validator.component(spec.kind, {"type": spec.name}, (spec.kind,))
        required = {f.name for f in dataclasses.fields(spec.params) if is_required(f)}
        problems = [str(issue) for issue in validator.issues if issue.path.split(".")[-1] not in required
                    or "missing required" not in issue.message]
        assert not problems, "default parameters do not validate:\n" + "\n".join(problems)
        if not required:
            assert node is not None and node.params == spec.params()

    def test_defaults_round_trip(self, spec: ComponentSpec, registry):
        """The defaults written to recipe.resolved.yaml validate back to the same parameters."""
        if any(is_required(f) for f in dataclasses.fields(spec.params)):
            pytest.skip(f"{spec.params.__name__} has required parameters, so it has no default instance")
        params = spec.params()
        plain = yaml.safe_load(yaml.safe_dump(to_plain(params)))
        validator = Validator(registry, {}, "<resolved>")
        node = validator.component(spec.kind, {"type": spec.name, **plain}, (spec.kind,))
        assert not validator.issues, "\n".join(map(str, validator.issues))
        assert node.params == params
