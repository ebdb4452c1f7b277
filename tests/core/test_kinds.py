"""Component kinds: declared once, extended by plugins through ``facerecon_add_kinds``."""
from __future__ import annotations

import pytest
import yaml

from facerecon.kinds import BUILTIN_KINDS
from facerecon.pluginmanager import DEFAULT_PLUGINS, load_plugins
from facerecon.recipe import RecipeError, load_recipe
from facerecon.registry import RegistryError
from facerecon.testing import ComponentContract

TEST, EXTRAS = "facerecon_test_components", "facerecon_test_extras"


def load(*extra: str):
    return load_plugins(extra_modules=[TEST, EXTRAS, *extra], disabled=DEFAULT_PLUGINS)


TRACK = """
facerecon: 1
task: {type: track, frames: 4}
tracker: {type: kalman, gain: 0.5}
"""


def test_builtin_kinds_come_from_one_declaration():
    host = load_plugins()
    registry = host.registry
    assert list(registry.kinds)[:len(BUILTIN_KINDS)] == [kind.name for kind in BUILTIN_KINDS]
    assert registry.slots() == {kind.slot: kind.name for kind in BUILTIN_KINDS if kind.slot}
    for kind in BUILTIN_KINDS:
        contract = kind.load_contract()
        assert issubclass(contract, ComponentContract) and contract.kind == kind.name
        assert kind.load_interface().__module__.startswith("facerecon.interfaces")
    assert {spec.kind for spec in registry} <= set(registry.kinds)


def test_a_plugin_adds_a_kind_with_a_slot(write_recipe, tmp_path):
    from facerecon.runner import run_recipe

    host = load()
    kind = host.registry.kind("tracker")
    assert (kind.slot, kind.provider, kind.doc) == ("tracker", EXTRAS, "follows a face from frame to frame")
    assert host.registry.names("tracker") == ["kalman"]
    recipe = write_recipe(TRACK)
    root = load_recipe(recipe, host.registry).root
    assert root.tracker.type == "kalman" and root.tracker.params.gain == 0.5
    summary = run_recipe(recipe, host, output=str(tmp_path / "out"), device="cpu")
    # 0 -> 0.5 -> 1.25 -> 2.125 -> 3.0625 for measurements 1, 2, 3, 4
    assert summary.rows[0]["tracker"] == "Kalman" and summary.rows[0]["position"] == pytest.approx(3.0625)
    resolved = yaml.safe_load((tmp_path / "out" / "recipe.resolved.yaml").read_text())
    assert resolved["tracker"] == {"type": "kalman", "gain": 0.5}


def test_a_plugin_kind_is_validated_like_a_builtin(write_recipe):
    host = load()
    bad = write_recipe(TRACK.replace("kalman, gain: 0.5", "kalmann, gain: 2"))
    with pytest.raises(RecipeError) as info:
        load_recipe(bad, host.registry)
    assert str(info.value) == (
        f"Recipe {bad} has 1 error:\n"
        f"  {bad}:3: tracker.type: unknown tracker 'kalmann' (did you mean 'kalman'?). Installed: kalman"
    )
    missing = write_recipe("facerecon: 1\ntask: {type: track}\n", "missing.yaml")
    with pytest.raises(RecipeError) as info:
        load_recipe(missing, host.registry)
    assert str(info.value) == (
        f"Recipe {missing} has 1 error:\n"
        f"  {missing}:1: tracker: task 'track' needs a tracker here (tracker: {{type: NAME}}). Installed: kalman"
    )
    out_of_range = write_recipe(TRACK.replace("gain: 0.5", "gain: 2"), "range.yaml")
    with pytest.raises(RecipeError, match=r"range.yaml:3: tracker.gain: must be >= 0 and <= 1, got 2"):
        load_recipe(out_of_range, host.registry)


def test_without_the_plugin_the_slot_is_an_unknown_key(write_recipe):
    host = load_plugins(extra_modules=[TEST], disabled=DEFAULT_PLUGINS)
    recipe = write_recipe(TRACK.replace("track, frames: 4", "job"))
    with pytest.raises(RecipeError, match="tracker: unknown parameter of the recipe"):
        load_recipe(recipe, host.registry)


#: The contract suite the tracker kind's declaration names, loaded as a plugin author would.
TrackerContract = load().registry.kind("tracker").load_contract()


class TestKalman(TrackerContract):
    """The added kind's contract suite runs on the plugin's component (with the base checks)."""

    @pytest.fixture
    def component(self, device):
        from facerecon.api import build

        return build("tracker", "kalman", device=str(device), host=load())


@pytest.mark.parametrize("plugin, message", [
    ("second_tracker", f"Two plugins add the kind 'tracker': {EXTRAS} and {EXTRAS}:second_tracker."),
    ("slot_taken", f"Plugin {EXTRAS}:slot_taken adds the kind 'scheduler' with recipe slot 'stages', which the "
                   "recipe format already uses."),
    ("bad_needs", f"loss 'needy' from {EXTRAS}:bad_needs needs components in unknown recipe slot(s) lamp. Slots: "),
])
def test_kind_and_needs_conflicts(plugin, message):
    with pytest.raises(RegistryError) as info:
        load(f"{EXTRAS}:{plugin}")
    assert str(info.value).startswith(message)


def test_kinds_and_describe_in_the_cli(monkeypatch):
    from click.testing import CliRunner

    from facerecon.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    args = ["--plugin", TEST, "--plugin", EXTRAS, *[a for name in DEFAULT_PLUGINS for a in ("--disable-plugin", name)]]
    runner = CliRunner()
    listing = runner.invoke(main, [*args, "kinds"], catch_exceptions=False)
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in listing.stdout.splitlines() if line.startswith("│")]
    assert ["tracker", "tracker", "1", EXTRAS, "follows a face from frame to frame"] in rows
    assert ["loss", "-", "2", "facerecon", "one weighted objective term"] in rows
    described = runner.invoke(main, [*args, "describe", "tracker", "kalman"], catch_exceptions=False)
    assert described.exit_code == 0 and "│ gain " in described.stdout and "float (>= 0 and <= 1)" in described.stdout
    only = runner.invoke(main, [*args, "components", "--kind", "tracker"], catch_exceptions=False)
    assert "│ kalman " in only.stdout and "│ widget " not in only.stdout
    unknown = runner.invoke(main, [*args, "components", "--kind", "trackr"], catch_exceptions=False)
    assert unknown.exit_code == 2 and "Unknown component kind 'trackr' (did you mean 'tracker'?)" in unknown.stderr
