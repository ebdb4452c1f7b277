"""Validate-time checks beyond types: parameter limits, finiteness, rules across fields
(``ParamError``), parameter-group names and components that need another component."""
from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from facerecon.params import Limits, field_limits
from facerecon.pluginmanager import DEFAULT_PLUGINS, load_plugins
from facerecon.recipe import RecipeError, load_recipe
from facerecon.recipe.validate import Validator

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "recipes" / "quickstart.yaml"
TEST, EXTRAS = "facerecon_test_components", "facerecon_test_extras"

GOOD = """
facerecon: 1
task: {type: job}
renderer: {type: widget, label: a}
stages:
  fit:
    steps: 10
    losses:
      lm: {type: term}
"""


@pytest.fixture(scope="module")
def extras_registry():
    return load_plugins(extra_modules=[TEST, EXTRAS], disabled=DEFAULT_PLUGINS).registry


@pytest.fixture(scope="module")
def builtins():
    return load_plugins().registry


def message(path, registry, sets=()) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, registry, sets)
    return str(info.value)


# -- limits and finiteness --------------------------------------------------------------------
def test_limits_and_finiteness_are_reported_at_once_with_lines(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("label: a", "label: a, size: 0, scale: .nan").replace("steps: 10", "steps: -5")
                     .replace("{type: term}", "{type: term, weight: -.inf}"))
    assert message(p, core_registry) == (
        f"Recipe {p} has 4 errors:\n"
        f"  {p}:3: renderer.size: must be >= 1, got 0\n"
        f"  {p}:3: renderer.scale: must be a finite number, got nan\n"
        f"  {p}:6: stages.fit.steps: must be >= 0, got -5\n"
        f"  {p}:8: stages.fit.losses.lm.weight: must be a finite number, got -inf"
    )


def test_stage_lr_must_be_positive_and_finite(write_recipe, core_registry):
    p = write_recipe(GOOD)
    assert message(p, core_registry, ["stages.fit.lr=-0.01", "stages.fit.lr_scale={pose: -1}"]) == (
        f"Recipe {p} has 2 errors:\n"
        f"  --set stages.fit.lr=-0.01: stages.fit.lr: must be > 0, got -0.01\n"
        f"  --set stages.fit.lr_scale={{pose: -1}}: stages.fit.lr_scale.pose: must be >= 0, got -1.0"
    )


def test_yaml12_floats_are_floats(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("steps: 10", "steps: 10\n    lr: 1e-3").replace("label: a", "label: a, scale: 2E+1"))
    root = load_recipe(p, core_registry, ["renderer.scale=.5e1"]).root
    assert root.stages["fit"].lr == 0.001 and root.renderer.params.scale == 5.0
    assert load_recipe(p, core_registry).root.renderer.params.scale == 20.0
    assert load_recipe(p, core_registry, ["stages.fit.lr=1E-4"]).root.stages["fit"].lr == 1e-4


def test_every_builtin_number_is_bounded(builtins):
    """Every int/float parameter of a built-in states its range (those listed may be any finite number)."""
    unbounded_on_purpose = {("face_detector", "dlib", "min_score"), ("face_detector", "auto", "min_score")}
    missing = []
    for spec in builtins:
        hints = typing.get_type_hints(spec.params)
        for f in dataclasses.fields(spec.params):
            numbers = {int, float} & set(_leaf_types(hints[f.name]))
            if numbers and field_limits(f).describe() == "" and (spec.kind, spec.name, f.name) not in unbounded_on_purpose:
                missing.append(f"{spec.kind} {spec.name}.{f.name}")
    assert missing == []


def _leaf_types(tp) -> list:
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Annotated:
        return _leaf_types(args[0])
    if args and typing.get_origin(tp) is not typing.Literal:
        return [leaf for arg in args if arg is not Ellipsis for leaf in _leaf_types(arg)]
    return [tp]


def test_every_builtin_float_refuses_nan(builtins):
    """NaN is refused in every float parameter of every built-in (and inf too)."""
    accepted = []
    for spec in builtins:
        hints = typing.get_type_hints(spec.params)
        for f in dataclasses.fields(spec.params):
            if hints[f.name] in (float, typing.Optional[float]):
                for bad in (math.nan, math.inf):
                    validator = Validator(builtins, {}, "<x>")
                    validator.component(spec.kind, {"type": spec.name, f.name: bad}, (spec.kind,))
                    if not any(issue.path.endswith(f.name) and "finite" in issue.message for issue in validator.issues):
                        accepted.append(f"{spec.kind} {spec.name}.{f.name}={bad}")
    assert accepted == []


def test_limits_describe_themselves():
    assert Limits(ge=0, le=1).describe() == ">= 0 and <= 1" and Limits().describe() == ""
    assert Limits(gt=0).problem(0.0) == "must be > 0, got 0.0" and Limits(gt=0).problem(1e-9) is None
    assert Limits(finite=False).problem(math.nan) is None and Limits(finite=False, ge=0).problem(-math.inf)


# -- rules across fields (ParamError from __post_init__) ---------------------------------------
def test_a_third_party_rule_is_reported_like_a_schema_error(write_recipe, extras_registry):
    p = write_recipe(GOOD.replace("lm: {type: term}", "lm: {type: term}\n      win:\n        type: windowed\n"
                                  "        window: 4").replace("label: a", "label: a, size: -1"))
    assert message(p, extras_registry) == (
        f"Recipe {p} has 2 errors:\n"
        f"  {p}:3: renderer.size: must be >= 1, got -1\n"
        f"  {p}:11: stages.fit.losses.win.window: must be odd (the window needs a centre pixel), got 4"
    )


def test_builtin_rules(write_recipe, builtins):
    p = write_recipe(QUICKSTART.read_text())
    assert message(p, builtins, [
        "stages.photometric.losses.photo.blur_size=4",
        "stages.textures.losses.range.roughness_range=[0.5, 0.2]",
        "stages.textures.losses.smoothness.maps=[]",
        "stages.light.delay={pose: 10}",
    ]) == (
        f"Recipe {p} has 4 errors:\n"
        f"  --set stages.light.delay={{pose: 10}}: stages.light.delay.pose: group 'pose' is not freed by this stage "
        "(free: [light]); 'pose' stands for rotation + translation\n"
        f"  --set stages.photometric.losses.photo.blur_size=4: stages.photometric.losses.photo.blur_size: must be odd "
        "(or 0 for 2*ceil(3*sigma) + 1), got 4\n"
        f"  --set stages.textures.losses.smoothness.maps=[]: stages.textures.losses.smoothness.maps: names no map; "
        "give at least one\n"
        f"  --set stages.textures.losses.range.roughness_range=[0.5, 0.2]: stages.textures.losses.range."
        "roughness_range: must be [min, max] with min < max, got [0.5, 0.2]"
    )


def _cli(*args: str, plugins: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).parent)}
    flags = [a for p in plugins for a in ("--plugin", p)]
    return subprocess.run([sys.executable, "-m", "facerecon.cli", *flags, *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def test_run_with_zero_bands_exits_2_before_building_anything():
    """`run recipes/quickstart.yaml --set light.bands=0`: one line saying why, exit 2, nothing built."""
    result = _cli("run", "recipes/quickstart.yaml", "--set", "light.bands=0")
    assert result.returncode == 2
    assert result.stderr == (
        "error: Recipe recipes/quickstart.yaml has 1 error:\n"
        "  --set light.bands=0: light.bands: must be >= 1 and <= 16, got 0\n"
    )
    code = ("import sys\nfrom facerecon.cli import main\ntry:\n    main(['run', 'recipes/quickstart.yaml', '--set', "
            "'light.bands=0'])\nexcept SystemExit as exc:\n    assert exc.code == 2, exc.code\n"
            "assert 'torch' not in sys.modules, 'the run imported torch before refusing the recipe'\n")
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert check.returncode == 0, check.stderr[-2000:]


# -- parameter-group names ----------------------------------------------------------------------
def test_misspelled_group_on_bfm_lite_suggests_the_group_of_another_model():
    """`free: [albdo]` on quickstart (bfm-lite): exit 2, did you mean 'albedo' (a bfm2009 group)."""
    result = _cli("validate", "recipes/quickstart.yaml", "--set", "stages.landmarks.free=[pose, albdo]")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == (
        "Recipe recipes/quickstart.yaml has 1 error:\n"
        "  --set stages.landmarks.free=[pose, albdo]: stages.landmarks.free.1: unknown parameter group 'albdo' "
        "(did you mean 'albedo'? 'albedo' is a group of bfm2009; this recipe's model bfm-lite has none). Groups here: "
        "rotation, translation, focal, pose, identity, expression, textures, light\n"
    )


def test_group_names_everywhere_they_appear(write_recipe, builtins):
    text = QUICKSTART.read_text().replace("free: [pose, focal, expression]",
                                          "free: [pose, focal, expresion, albedo]")
    text = text.replace("lr_scale: {pose: 0.2}", "lr_scale: {pose: 0.2, lihgt: 2}")
    text = text.replace("prior: {type: gaussian-prior, weight: 0.01}",
                        "prior: {type: gaussian-prior, weight: 0.01, groups: {identity: 1, sahpe: 2}}")
    p = write_recipe(text)
    lines = {needle: 1 + text[:text.index(needle)].count("\n") for needle in ("expresion", "lihgt", "sahpe")}
    groups = "Groups here: rotation, translation, focal, pose, identity, expression, textures, light"
    assert message(p, builtins) == (
        f"Recipe {p} has 5 errors:\n"
        f"  {p}:{lines['lihgt']}: stages.photometric.lr_scale.lihgt: group 'lihgt' is not freed by this stage "
        "(free: [light, pose, identity, expression])\n"
        f"  {p}:{lines['expresion']}: stages.landmarks.free.2: unknown parameter group 'expresion' (did you mean "
        f"'expression'?). {groups}\n"
        f"  {p}:{lines['expresion']}: stages.landmarks.free.3: unknown parameter group 'albedo': 'albedo' is a group "
        f"of bfm2009; this recipe's model bfm-lite has none. {groups}\n"
        f"  {p}:{lines['lihgt']}: stages.photometric.lr_scale.lihgt: unknown parameter group 'lihgt' (did you mean "
        f"'light'?). {groups}\n"
        f"  {p}:{lines['sahpe']}: stages.photometric.losses.prior.groups.sahpe: unknown parameter group 'sahpe'. {groups}"
    )


def test_groups_follow_the_model_and_its_parameters(write_recipe, builtins):
    text = QUICKSTART.read_text().replace("free: [light, pose, identity, expression]",
                                          "free: [light, pose, identity, expression, albedo]")
    p = write_recipe(text)
    load_recipe(p, builtins, ["model={type: bfm2009}"])  # bfm2009 has albedo coefficients
    assert "'albedo' is a group of bfm2009; this recipe's model bfm2009 has none" not in message(
        p, builtins, ["model={type: bfm2009, n_albedo: 0}"])
    assert "unknown parameter group 'albedo'" in message(p, builtins, ["model={type: bfm2009, n_albedo: 0}"])


def test_undeclared_groups_are_not_checked(write_recipe, extras_registry):
    """A model whose params do not declare groups may own any name: nothing is checked."""
    p = write_recipe(GOOD.replace("steps: 10", "steps: 10\n    free: [anything, at_all]") + "model: {type: blob}\n")
    assert load_recipe(p, extras_registry).root.stages["fit"].free == ["anything", "at_all"]
    declared = write_recipe(GOOD.replace("steps: 10", "steps: 10\n    free: [lihgt]") + "light: {type: quad}\n", "q.yaml")
    assert "unknown parameter group 'lihgt' (did you mean 'light'?)" in message(declared, extras_registry)


# -- components that need another component -----------------------------------------------------
def test_sh_prior_needs_an_sh_light(write_recipe):
    registry = load_plugins(extra_modules=[EXTRAS]).registry
    p = write_recipe(QUICKSTART.read_text())
    text = QUICKSTART.read_text()
    lines = [1 + i for i, line in enumerate(text.splitlines()) if "type: sh-prior" in line]
    assert message(p, registry, ["light={type: quad}"]) == (
        f"Recipe {p} has 2 errors:\n"
        + "".join(f"  {p}:{line}: stages.{stage}.losses.light.type: loss 'sh-prior' works only with the light sh; "
                  f"this recipe's light is 'quad'\n" for line, stage in zip(lines, ("light", "photometric")))
    ).rstrip("\n")


# -- plugin-author conventions --------------------------------------------------------------------
def test_undocumented_parameters_and_heavy_imports_warn_at_load():
    with pytest.warns(UserWarning, match="parameter\\(s\\) speed of _Undocumented have no doc"):
        host = load_plugins(extra_modules=[TEST, f"{EXTRAS}:sloppy"], disabled=DEFAULT_PLUGINS)
    assert len(host.registry.warnings) == 1
    result = _cli("components", plugins=("facerecon_test_heavy",))
    assert result.returncode == 0
    assert result.stderr.startswith("warning: Plugin 'facerecon_test_heavy' (facerecon_test_heavy) imports numpy when "
                                    "it loads, which slows every facerecon start")
    assert _cli("components").stderr == "", "the built-ins follow the conventions"


def test_describe_dedents_docstrings(monkeypatch):
    from click.testing import CliRunner

    from facerecon.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(main, ["describe", "task", "fit"], catch_exceptions=False)
    lines = result.stdout.splitlines()
    start = lines.index("Parameters of the ``fit`` task (NextFace-style optimisation per face).")
    assert lines[start + 1] == "" and lines[start + 2].startswith("The schedule itself lives")
