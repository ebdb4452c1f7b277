"""Recipe loader error messages, word for word: what the user reads must stay exact."""
from __future__ import annotations

import pytest

from facerecon.recipe import RecipeError, load_recipe

ACCEPTED_WIDGET = "size, scale, mode, tags, label"

GOOD = """
facerecon: 1
task: {type: job}
renderer: {type: widget, label: a}
stages:
  fit: {steps: 10}
"""


def message(path, registry, sets=()) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, registry, sets)
    return str(info.value)


def test_good_recipe_loads(write_recipe, core_registry):
    recipe = load_recipe(write_recipe(GOOD), core_registry)
    assert recipe.root.renderer.type == "widget" and recipe.root.renderer.params.label == "a"


def test_misspelled_component_name(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("type: widget", "type: widgt"))
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n"
        f"  {p}:3: renderer.type: unknown renderer 'widgt' (did you mean 'widget'?). Installed: gadget, widget"
    )


def test_component_name_without_close_match(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("type: widget", "type: raytracer"))
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n  {p}:3: renderer.type: unknown renderer 'raytracer'. Installed: gadget, widget"
    )


def test_unknown_parameter(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("label: a", "label: a, sise: 3"))
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n"
        f"  {p}:3: renderer.sise: unknown parameter of renderer 'widget' (did you mean 'size'?). Accepted: {ACCEPTED_WIDGET}"
    )


def test_unknown_top_level_key(write_recipe, core_registry):
    p = write_recipe(GOOD + "sede: 3\n")
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n"
        f"  {p}:6: sede: unknown parameter of the recipe (did you mean 'seed'?). Accepted: facerecon, task, model, "
        "reflectance, light, renderer, encoder, face_detector, landmark_detector, dataset, exporters, stages, seed, "
        "device, output, variants, versions"
    )


def test_wrong_type(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("label: a", "label: a, size: big"))
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n  {p}:3: renderer.size: expected int, got str 'big'"
    )


def test_float_is_not_an_int(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("steps: 10", "steps: 2.5"))
    assert message(p, core_registry) == f"Recipe {p} has 1 error:\n  {p}:5: stages.fit.steps: expected int, got float 2.5"


def test_missing_required(write_recipe, core_registry):
    p = write_recipe(GOOD.replace(", label: a", ""))
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n"
        f"  {p}:3: renderer.label: missing required parameter of renderer 'widget' (str: A name that must be given.)"
    )


def test_bad_literal(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("label: a", "label: a, mode: fats"))
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n  {p}:3: renderer.mode: expected one of fast, exact, got str 'fats' (did you mean 'fast'?)"
    )


def test_unsupported_format_version(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("facerecon: 1", "facerecon: 2"))
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n  {p}:1: facerecon: unsupported recipe format version 2; this facerecon reads 1"
    )


def test_missing_format_version(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("facerecon: 1\n", ""))
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n"
        f"  {p}:1: facerecon: missing required parameter of the recipe (int: Recipe format version; must be 1.)"
    )


def test_invalid_yaml_with_line(write_recipe, core_registry):
    p = write_recipe("facerecon: 1\ntask: {type: job\nrenderer: {type: widget}\n")
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n  {p}:3: invalid YAML: did not find expected ',' or '}}'"
    )


def test_duplicate_key(write_recipe, core_registry):
    p = write_recipe(GOOD + "seed: 1\nseed: 2\n")
    assert message(p, core_registry) == f"Recipe {p} has 1 error:\n  {p}:7: seed: duplicate key"


def test_not_a_mapping(write_recipe, core_registry):
    p = write_recipe("- facerecon\n- 1\n")
    assert message(p, core_registry) == f"Recipe {p} has 1 error:\n  {p}:1: a recipe must be a mapping of keys to values"


def test_missing_file(tmp_path, core_registry):
    p = tmp_path / "nope.yaml"
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n  {p}: cannot read the recipe: No such file or directory"
    )


def test_slot_the_task_needs(write_recipe, core_registry):
    p = write_recipe(GOOD.replace("renderer: {type: widget, label: a}\n", ""))
    assert message(p, core_registry) == (
        f"Recipe {p} has 1 error:\n"
        f"  {p}:1: renderer: task 'job' needs a renderer here (renderer: {{type: NAME}}). Installed: gadget, widget"
    )


def test_several_errors_listed_at_once_with_file_and_line(write_recipe, core_registry):
    p = write_recipe("""
        facerecon: 1
        task:
          type: job
          faces: every
        renderer:
          type: widget
          size: 1.5
        stages:
          fit:
            steps: 10
            free: [pose, 3]
            losses:
              lm: {type: term, wieght: 2}
              other: {type: trem}
        """)
    assert message(p, core_registry) == (
        f"Recipe {p} has 6 errors:\n"
        f"  {p}:4: task.faces: expected one of all, largest, got str 'every'\n"
        f"  {p}:7: renderer.size: expected int, got float 1.5\n"
        f"  {p}:5: renderer.label: missing required parameter of renderer 'widget' (str: A name that must be given.)\n"
        f"  {p}:11: stages.fit.free.1: expected str, got int 3\n"
        f"  {p}:13: stages.fit.losses.lm.wieght: unknown parameter of loss 'term' (did you mean 'weight'?). Accepted: weight, power\n"
        f"  {p}:14: stages.fit.losses.other.type: unknown loss 'trem' (did you mean 'term'?). Installed: term"
    )


def test_set_errors_name_the_option(write_recipe, core_registry):
    p = write_recipe(GOOD)
    assert message(p, core_registry, ["renderer.size=abc", "stages.fit.lr=fast"]) == (
        f"Recipe {p} has 2 errors:\n"
        f"  --set renderer.size=abc: renderer.size: expected int, got str 'abc'\n"
        f"  --set stages.fit.lr=fast: stages.fit.lr: expected float, got str 'fast'"
    )


def test_set_without_equals(write_recipe, core_registry):
    p = write_recipe(GOOD)
    assert message(p, core_registry, ["renderer.size"]) == (
        f"Recipe {p} has 1 error:\n  --set renderer.size: expected KEY.PATH=VALUE, e.g. --set losses.photo.weight=10"
    )
