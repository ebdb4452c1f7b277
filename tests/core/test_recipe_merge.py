"""`extends:` merging, `--set` overrides, named loss maps and the resolved recipe."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import facerecon
from facerecon.pluginmanager import load_plugins
from facerecon.recipe import RecipeError, deep_merge, load_recipe, resolved_tree, write_resolved
from facerecon.recipe.yamlio import load_recipe_tree

BASE = """
facerecon: 1
task: {type: job}
renderer: {type: widget, label: base, size: 32, mode: exact}
stages:
  fit:
    steps: 10
    lr: 0.02
    losses:
      landmarks: {type: term, weight: 1.0}
      prior: {type: term, weight: 0.1, power: 1}
"""


def test_deep_merge_rules():
    base = {"a": {"type": "x", "p": 1, "q": 2}, "b": [1, 2], "c": {"d": 1}}
    assert deep_merge(base, {"a": {"p": 5}, "b": [3]}) == {"a": {"type": "x", "p": 5, "q": 2}, "b": [3], "c": {"d": 1}}
    assert deep_merge(base, {"a": {"type": "y", "r": 3}})["a"] == {"type": "y", "r": 3}
    assert deep_merge(base, {"a": {"type": "x", "q": 9}})["a"] == {"type": "x", "p": 1, "q": 9}
    # A bare component name stands for {type: NAME} on either side.
    assert deep_merge({"r": "widget"}, {"r": {"size": 3}}) == {"r": {"type": "widget", "size": 3}}
    assert deep_merge({"r": {"type": "widget", "size": 3}}, {"r": "widget"}) == {"r": {"type": "widget", "size": 3}}
    assert deep_merge({"r": {"type": "widget", "size": 3}}, {"r": "gadget"}) == {"r": {"type": "gadget"}}
    assert base == {"a": {"type": "x", "p": 1, "q": 2}, "b": [1, 2], "c": {"d": 1}}, "inputs must not change"


def test_extends_merges_deeply(write_recipe, core_registry):
    write_recipe(BASE, "base.yaml")
    child = write_recipe("""
        extends: base.yaml
        renderer: {size: 64}
        stages:
          fit:
            steps: 20
            losses:
              landmarks: {weight: 0.5}
        """, "child.yaml")
    root = load_recipe(child, core_registry).root
    assert root.renderer.params.size == 64 and root.renderer.params.label == "base" and root.renderer.params.mode == "exact"
    fit = root.stages["fit"]
    assert (fit.steps, fit.lr) == (20, 0.02)
    assert fit.losses["landmarks"].params.weight == 0.5 and fit.losses["prior"].params.power == 1


def test_type_change_replaces_the_node(write_recipe, core_registry):
    write_recipe(BASE, "base.yaml")
    child = write_recipe("extends: base.yaml\nrenderer: {type: gadget, label: g}\n", "child.yaml")
    node = load_recipe(child, core_registry).root.renderer
    assert node.type == "gadget" and node.params.label == "g" and node.params.zoom == 2.0


def test_replaced_node_errors_point_at_the_child(write_recipe, core_registry):
    """After a type change the parent's lines of the old node are forgotten."""
    write_recipe(BASE, "base.yaml")
    child = write_recipe("extends: base.yaml\nrenderer:\n  type: gadget\n", "child.yaml")
    with pytest.raises(RecipeError) as info:
        load_recipe(child, core_registry)
    assert str(info.value) == (
        f"Recipe {child} has 1 error:\n"
        f"  {child}:2: renderer.label: missing required parameter of renderer 'gadget' (str: A name that must be given.)"
    )


def test_errors_in_an_extended_file_name_that_file(write_recipe, core_registry):
    base = write_recipe(BASE.replace("size: 32", "size: big"), "base.yaml")
    child = write_recipe("extends: base.yaml\nseed: 3\n", "child.yaml")
    with pytest.raises(RecipeError) as info:
        load_recipe(child, core_registry)
    assert str(info.value) == f"Recipe {child} has 1 error:\n  {base}:3: renderer.size: expected int, got str 'big'"


def test_extends_paths_are_relative_to_the_file(write_recipe, core_registry, tmp_path, monkeypatch):
    write_recipe(BASE, "shared/base.yaml")
    write_recipe("extends: base.yaml\nseed: 5\n", "shared/mid.yaml")
    leaf = write_recipe("extends: ../shared/mid.yaml\noutput: out\n", "project/leaf.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    root = load_recipe(leaf, core_registry).root
    assert (root.seed, root.output, root.renderer.params.label) == (5, "out", "base")


def test_extends_a_list_later_wins(write_recipe, core_registry):
    write_recipe(BASE, "base.yaml")
    write_recipe("seed: 1\noutput: one\n", "one.yaml")
    write_recipe("seed: 2\n", "two.yaml")
    leaf = write_recipe("extends: [base.yaml, one.yaml, two.yaml]\n", "leaf.yaml")
    root = load_recipe(leaf, core_registry).root
    assert (root.seed, root.output) == (2, "one")


def test_extends_cycle_is_reported(write_recipe, core_registry):
    a = write_recipe("extends: b.yaml\nseed: 1\n", "a.yaml")
    b = write_recipe("seed: 2\nextends: a.yaml\n", "b.yaml")
    with pytest.raises(RecipeError) as info:
        load_recipe(a, core_registry)
    ra, rb = a.resolve(), b.resolve()
    assert str(info.value) == f"Recipe {a} has 1 error:\n  {b}:2: extends: circular extends: {ra} -> {rb} -> {ra}"


def test_extends_missing_file(write_recipe, core_registry):
    a = write_recipe("extends: nothere.yaml\n", "a.yaml")
    with pytest.raises(RecipeError) as info:
        load_recipe(a, core_registry)
    assert str(info.value) == (
        f"Recipe {a} has 1 error:\n  {a}:1: extends: extended recipe {a.parent / 'nothere.yaml'} does not exist"
    )


def test_set_coerces_types(write_recipe, core_registry):
    p = write_recipe(BASE)
    root = load_recipe(p, core_registry, [
        "renderer.scale=0.1", "renderer.size=128", "stages.fit.lr=1", "renderer.tags=[a, b]", "seed=7",
        "output=123", "stages.fit.steps=5.0",
    ]).root
    params = root.renderer.params
    assert params.scale == 0.1 and isinstance(params.scale, float)
    assert params.size == 128 and isinstance(params.size, int)
    assert root.stages["fit"].lr == 1.0 and isinstance(root.stages["fit"].lr, float)
    assert params.tags == ["a", "b"] and root.seed == 7
    assert root.output == "123", "a --set string field keeps numbers as text"
    assert root.stages["fit"].steps == 5 and isinstance(root.stages["fit"].steps, int)


def test_set_type_replaces_the_node(write_recipe, core_registry):
    p = write_recipe(BASE)
    node = load_recipe(p, core_registry, ["renderer.type=gadget", "renderer.label=g"]).root.renderer
    assert node.type == "gadget" and node.params.label == "g"


def test_set_same_type_keeps_the_node(write_recipe, core_registry):
    p = write_recipe(BASE)
    node = load_recipe(p, core_registry, ["renderer.type=widget"]).root.renderer
    assert node.params.size == 32


def test_set_named_losses(write_recipe, core_registry):
    p = write_recipe(BASE)
    losses = load_recipe(p, core_registry, [
        "stages.fit.losses.landmarks.weight=0.25",
        "stages.fit.losses.extra={type: term, weight: 3}",
    ]).root.stages["fit"].losses
    assert losses["landmarks"].params.weight == 0.25 and losses["prior"].params.weight == 0.1
    assert losses["extra"].params.weight == 3.0
    assert list(losses) == ["landmarks", "prior", "extra"]


def test_set_into_a_bare_component_name(write_recipe, core_registry):
    p = write_recipe(BASE.replace("renderer: {type: widget, label: base, size: 32, mode: exact}", "renderer: gadget"))
    node = load_recipe(p, core_registry, ["renderer.label=x"]).root.renderer
    assert node.type == "gadget" and node.params.label == "x"


def test_overrides_and_sets_apply_in_order(write_recipe, core_registry):
    p = write_recipe(BASE)
    root = load_recipe(p, core_registry, ["output=from-set"], {"output": "from-option", "seed": None}).root
    assert root.output == "from-option" and root.seed == 0


def test_resolved_recipe_fills_defaults_and_versions(write_recipe, core_registry, tmp_path):
    recipe = load_recipe(write_recipe(BASE), core_registry)
    tree = resolved_tree(recipe, core_registry)
    assert tree["renderer"] == {"type": "widget", "size": 32, "scale": 1.0, "mode": "exact", "tags": [], "label": "base"}
    assert tree["stages"]["fit"] == {
        "steps": 10, "lr": 0.02, "free": [], "renderer": None, "lr_scale": {}, "delay": {},
        "losses": {"landmarks": {"type": "term", "weight": 1.0, "power": 2},
                   "prior": {"type": "term", "weight": 0.1, "power": 1}},
    }
    assert (tree["seed"], tree["device"], tree["output"], tree["model"]) == (0, "auto", "outputs", None)
    assert tree["versions"] == {"facerecon": facerecon.__version__}
    # Written to disk, it reads back as the same recipe.
    path = tmp_path / "out" / "recipe.resolved.yaml"
    write_resolved(recipe, core_registry, path)
    text = path.read_text()
    assert text.startswith(f"# Resolved from {recipe.source}")
    assert yaml.safe_load(text) == tree
    reloaded = load_recipe(path, core_registry).root
    assert reloaded.versions == tree["versions"]
    assert dataclasses.replace(reloaded, versions={}) == recipe.root
    assert [p.name for p in path.parent.iterdir()] == ["recipe.resolved.yaml"], "no temporary file is left"


def test_builtins_name_the_facerecon_distribution():
    """Built-in components report the facerecon distribution."""
    host = load_plugins()
    spec = next(iter(host.registry), None)
    if spec is None:
        pytest.skip("no built-in component registered yet")
    assert spec.distribution == ("facerecon", facerecon.__version__)


def test_recipe_show_tree_is_merged_and_set(write_recipe):
    write_recipe(BASE, "base.yaml")
    child = write_recipe("extends: base.yaml\nseed: 4\n", "child.yaml")
    locations: dict = {}
    tree = load_recipe_tree(child, locations)
    assert tree["seed"] == 4 and tree["renderer"]["label"] == "base" and "extends" not in tree
    assert locations[("seed",)] == f"{child}:2" and locations[("renderer", "label")].startswith(f"{child.parent / 'base.yaml'}:")


def test_loading_and_validating_imports_no_torch(write_recipe, tmp_path):
    """The CLI validates recipes and describes components without importing torch (or the implementations)."""
    recipe = write_recipe(BASE)
    code = f"""
import sys
from facerecon.cli import main
from facerecon.pluginmanager import load_plugins
from facerecon.recipe import load_recipe
from facerecon.recipe.validate import Validator
host = load_plugins(extra_modules=["facerecon_test_components"])
load_recipe({str(recipe)!r}, host.registry)
for spec in host.registry:
    Validator(host.registry, {{}}, "<x>").component(spec.kind, {{"type": spec.name}}, (spec.kind,))
for args in (["validate", {str(recipe)!r}], ["describe", "renderer", "widget"], ["components"], ["plugins"]):
    try:
        main(["--plugin", "facerecon_test_components", *args])
    except SystemExit as exc:
        assert exc.code in (0, None), (args, exc.code)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "facerecon_test_impl", "numpy", "cv2", "dlib"))
assert not heavy, heavy
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]


# -- `key: null` removes an inherited key ---------------------------------------------------------
def test_null_removes_inherited_stages_losses_and_parameters(write_recipe, core_registry):
    write_recipe(BASE + "  polish: {steps: 5}\n", "base.yaml")
    child = write_recipe("""
        extends: base.yaml
        renderer: {size: null}
        stages:
          polish: null
          fit:
            lr: null
            losses:
              prior: null
        """, "child.yaml")
    root = load_recipe(child, core_registry).root
    assert list(root.stages) == ["fit"]
    assert list(root.stages["fit"].losses) == ["landmarks"]
    assert root.stages["fit"].lr == 0.01, "a removed parameter takes its default"
    assert root.renderer.params.size == 64 and root.renderer.params.label == "base"


def test_null_sets_a_parameter_that_accepts_null(write_recipe, core_registry):
    write_recipe(BASE.replace("renderer: {type: widget, label: base, size: 32, mode: exact}",
                              "renderer: {type: gadget, label: base, limit: 3}"), "base.yaml")
    child = write_recipe("extends: base.yaml\nrenderer: {limit: null}\n", "child.yaml")
    assert load_recipe(child, core_registry).root.renderer.params.limit is None


def test_null_removing_a_required_parameter_leaves_it_missing(write_recipe, core_registry):
    write_recipe(BASE, "base.yaml")
    child = write_recipe("extends: base.yaml\nrenderer: {label: null}\n", "child.yaml")
    with pytest.raises(RecipeError) as info:
        load_recipe(child, core_registry)
    assert str(info.value) == (
        f"Recipe {child} has 1 error:\n"
        f"  {child}:2: renderer.label: missing required parameter of renderer 'widget' (str: A name that must be given.)"
    )


def test_null_without_inheritance_is_a_value(write_recipe, core_registry):
    p = write_recipe(BASE.replace("size: 32", "size: null"))
    with pytest.raises(RecipeError) as info:
        load_recipe(p, core_registry)
    assert str(info.value) == f"Recipe {p} has 1 error:\n  {p}:3: renderer.size: expected int, got null None"


def test_set_null_removes_like_extends(write_recipe, core_registry):
    p = write_recipe(BASE.replace("renderer: {type: widget, label: base, size: 32, mode: exact}",
                                  "renderer: {type: gadget, label: base, limit: 3}"))
    root = load_recipe(p, core_registry, ["stages.fit.losses.prior=null", "renderer.limit=null", "renderer.zoom=null"]).root
    assert list(root.stages["fit"].losses) == ["landmarks"]
    assert root.renderer.params.limit is None and root.renderer.params.zoom == 2.0


def test_nextface_resolves_to_nextface_stages_only():
    """`recipe show --resolved recipes/nextface.yaml`: NextFace's three stages and weights, nothing of quickstart's."""
    from click.testing import CliRunner

    from facerecon.cli import main

    root = Path(__file__).resolve().parents[2]
    result = CliRunner().invoke(main, ["recipe", "show", "--resolved", str(root / "recipes" / "nextface.yaml")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    stages = yaml.safe_load(result.stdout)["stages"]
    assert list(stages) == ["landmarks", "photometric", "textures"]
    landmarks, photometric, textures = stages.values()
    assert (landmarks["steps"], landmarks["lr"], landmarks["free"]) == (2000, 0.02, ["pose", "focal", "expression"])
    assert {k: (v["type"], v["weight"]) for k, v in landmarks["losses"].items()} == {
        "landmarks": ("landmark", 1.0), "prior": ("gaussian-prior", 0.1)}
    assert landmarks["losses"]["prior"]["groups"] == {"expression": 1.0}
    assert (photometric["steps"], photometric["free"]) == (400, ["light", "pose", "identity", "expression"])
    assert photometric["lr"] * photometric["lr_scale"]["light"] == pytest.approx(0.005)
    assert photometric["lr"] * photometric["lr_scale"]["pose"] == pytest.approx(1e-4)
    assert photometric["delay"] == {"pose": 100, "identity": 100, "expression": 100}
    photo = photometric["losses"]["photo"]
    assert (photo["weight"], photo["norm"], photo["blur_sigma"], photo["blur_size"]) == (1000.0, "l1", 1.414, 3)
    assert {k: v["weight"] for k, v in photometric["losses"].items()} == {
        "photo": 1000.0, "landmarks": 0.001, "prior": 0.001, "light": 0.0001}
    assert photometric["losses"]["prior"]["groups"] == {}, "every coefficient group of the model, weight 1"
    assert (textures["steps"], textures["free"]) == (100, ["textures"])
    weights = {k: (v["type"], v.get("maps"), v["weight"]) for k, v in textures["losses"].items()}
    assert weights == {
        "photo": ("photometric", None, 1000.0),
        "diffuse_symmetry": ("texture-symmetry", ["diffuse"], 60.0),
        "specular_symmetry": ("texture-symmetry", ["specular"], 40.0),
        "roughness_symmetry": ("texture-symmetry", ["roughness"], 40.0),
        "diffuse_consistency": ("texture-consistency", ["diffuse"], 20.0),
        "specular_consistency": ("texture-consistency", ["specular"], 0.4),
        "chromaticity": ("texture-chromaticity", ["diffuse"], 20.0),
        "specular_chromaticity": ("texture-chromaticity", ["specular"], 0.4),
        "range": ("texture-range", ["diffuse", "specular", "roughness"], 200.0),
        "diffuse_smoothness": ("texture-smoothness", ["diffuse"], 39.2),
        "specular_smoothness": ("texture-smoothness", ["specular"], 39.2),
        "roughness_smoothness": ("texture-smoothness", ["roughness"], 26.1),
    }
    assert textures["losses"]["range"]["roughness_range"] == [0.0, 1.0] and textures["losses"]["range"]["norm"] == "l1"
