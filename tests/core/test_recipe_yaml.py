"""Malformed recipe files: each one is a RecipeError (exit 2) with file:line, nothing is executed,
and aliases cannot blow up or recurse."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facerecon.recipe import RecipeError, load_recipe
from facerecon.recipe.yamlio import MAX_DEPTH, MAX_VALUES

GOOD = """
facerecon: 1
task: {type: job}
renderer: {type: widget, label: a}
stages:
  fit: {steps: 10}
"""


def issues(path, registry) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, registry)
    return [str(issue) for issue in info.value.issues]


def test_python_tags_are_refused_with_file_and_line(write_recipe, core_registry, tmp_path):
    marker = tmp_path / "executed"
    p = write_recipe(GOOD + f"""output: !!python/name:os.system
seed: !!python/object/apply:os.system ["touch {marker}"]
variants: {{a: !!python/object/new:list []}}
""")
    assert issues(p, core_registry) == [
        f"{p}:6: output: the tag !!python/name:os.system is not allowed in a recipe (plain YAML data only)",
        f"{p}:7: seed: the tag !!python/object/apply:os.system is not allowed in a recipe (plain YAML data only)",
        f"{p}:8: variants.a: the tag !!python/object/new:list is not allowed in a recipe (plain YAML data only)",
    ]
    assert not marker.exists()


@pytest.mark.parametrize("value, message", [
    ('!!binary "not base64!"', "cannot read 'not base64!' as !!binary"),
    ('!!int "abc"', "cannot read 'abc' as !!int"),
    ('!!float "x"', "cannot read 'x' as !!float"),
    ("!!timestamp 2001-13-45", "cannot read '2001-13-45' as !!timestamp"),
    ("!custom 3", "the tag !custom is not allowed in a recipe"),
    ("!!set {a, b}", "the tag !!set is not allowed in a recipe"),
    ("1" * 5000, "cannot read '1111111111111111111111111111111111111...' as !!int"),
])
def test_malformed_values(write_recipe, core_registry, value, message):
    p = write_recipe(GOOD + f"seed: {value}\n")
    [issue] = issues(p, core_registry)
    assert issue.startswith(f"{p}:6: seed: {message}")


def test_non_utf8_bytes_name_their_line(tmp_path, core_registry):
    p = tmp_path / "latin1.yaml"
    p.write_bytes(GOOD.lstrip().encode() + "output: caf\u00e9\n".encode("latin-1"))
    assert issues(p, core_registry) == [f"{p}:6: not UTF-8 text (byte 0xe9); save the recipe as UTF-8"]


def test_control_characters_name_their_line(tmp_path, core_registry):
    p = tmp_path / "nul.yaml"
    p.write_text(GOOD.lstrip() + "output: a\x00b\n")
    [issue] = issues(p, core_registry)
    assert re.match(rf"{re.escape(str(p))}:6: invalid YAML: (control|special) characters are not allowed", issue)


def test_deep_nesting_is_refused(write_recipe, core_registry):
    p = write_recipe(GOOD + "variants: " + "[" * 200 + "]" * 200 + "\n")
    assert issues(p, core_registry) == [f"{p}:6: nested more than {MAX_DEPTH} levels deep"]
    deeper = write_recipe(GOOD + "variants: " + "[" * 5000 + "]" * 5000 + "\n", "deeper.yaml")
    [issue] = issues(deeper, core_registry)  # LibYAML stops at 1000 levels itself
    assert re.match(rf"{re.escape(str(deeper))}:6: (nested more than {MAX_DEPTH} levels deep|invalid YAML: "
                    "exceeded maximum nesting depth)", issue)
    blocks = write_recipe(GOOD + "".join(f"{'  ' * i}k{i}:\n" for i in range(200)), "blocks.yaml")
    assert issues(blocks, core_registry) == [f"{blocks}:{6 + MAX_DEPTH - 1}: nested more than {MAX_DEPTH} levels deep"]


def test_recursive_alias(write_recipe, core_registry):
    p = write_recipe(GOOD + "variants: &loop {a: [*loop]}\n")
    assert issues(p, core_registry) == [f"{p}:6: variants.a.0: recursive alias: this value contains itself"]


def test_alias_bomb_is_bounded(write_recipe, core_registry):
    """13 lines whose aliases would expand to 10^9 values stop at MAX_VALUES, at once."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    p = write_recipe(GOOD + "variants:\n" + "".join(f"  {line}\n" for line in lines))
    started = time.perf_counter()
    [issue] = issues(p, core_registry)
    seconds = time.perf_counter() - started
    assert issue.startswith(f"{p}:") and f"more than {MAX_VALUES} values once its aliases are expanded" in issue
    print(f"alias bomb refused in {seconds:.3f} s")


def test_aliases_and_merge_keys_that_fit_work(write_recipe, core_registry):
    p = write_recipe("""
        facerecon: 1
        task: {type: job}
        renderer: &widget {type: widget, label: a, size: 32}
        stages:
          fit:
            steps: 10
            renderer: {<<: *widget, size: 16}
            losses:
              one: &term {type: term, weight: 2.0}
              two: *term
        """)
    root = load_recipe(p, core_registry).root
    stage = root.stages["fit"]
    assert (root.renderer.params.size, stage.renderer.params.size, stage.renderer.params.label) == (32, 16, "a")
    assert stage.losses["one"].params == stage.losses["two"].params
    bad = write_recipe(GOOD + "seed: {<<: [1, 2]}\n", "bad.yaml")
    assert issues(bad, core_registry) == [f"{bad}:6: seed: << merges mappings only (<<: *name or <<: [*a, *b])",
                                          f"{bad}:6: seed: << merges mappings only (<<: *name or <<: [*a, *b])"]


def test_keys_must_be_names(write_recipe, core_registry):
    p = write_recipe(GOOD + "? [a, b]\n: 1\n")
    assert issues(p, core_registry) == [f"{p}:6: keys must be plain names, got a mapping or list tagged !!seq"]


def test_several_documents_and_huge_files(write_recipe, core_registry, tmp_path):
    p = write_recipe(GOOD + "---\nseed: 1\n")
    [issue] = issues(p, core_registry)
    assert issue.startswith(f"{p}:6: invalid YAML: but found another document")
    huge = tmp_path / "huge.yaml"
    huge.write_text(GOOD + "#" * (2 << 20) + "\n")
    [issue] = issues(huge, core_registry)
    assert issue.startswith(f"{huge}: the recipe is ") and "recipes are at most 1048576 bytes" in issue


MALFORMED = {
    "python_tag.yaml": GOOD + "output: !!python/name:os.system\n",
    "bad_binary.yaml": GOOD + 'output: !!binary "%%%"\n',
    "bad_int.yaml": GOOD + 'seed: !!int "abc"\n',
    "deep.yaml": GOOD + "variants: " + "[" * 5000 + "]" * 5000 + "\n",
    "recursive.yaml": GOOD + "variants: &x [*x]\n",
    "bomb.yaml": GOOD + "variants:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"  {c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi")),
    "truncated.yaml": "facerecon: 1\ntask: {type: job\n",
    "binary.bin": None,
}


def test_malformed_files_exit_2_through_the_cli(tmp_path):
    """The real command on each malformed file: exit 2, file:line, no traceback, no 'internal error'."""
    paths = []
    for name, text in MALFORMED.items():
        path = tmp_path / name
        if text is None:
            path.write_bytes(bytes(range(256)) * 4)
        else:
            path.write_text(text)
        paths.append(path)
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).parent)}
    for path in paths:
        result = subprocess.run([sys.executable, "-m", "facerecon.cli", "--plugin", "facerecon_test_components",
                                 "validate", str(path)], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 2, (path.name, result.stderr)
        assert result.stderr.startswith(f"Recipe {path} has "), (path.name, result.stderr)
        assert f"  {path}:" in result.stderr, (path.name, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (path.name, result.stderr)


def test_a_flood_of_errors_is_listed_up_to_50(write_recipe, core_registry):
    """420 wrong items: every issue is kept, the message lists 50."""
    p = write_recipe(GOOD.replace("{steps: 10}", "{steps: 10, free: [" + ", ".join(["1"] * 420) + "]}"))
    with pytest.raises(RecipeError) as info:
        load_recipe(p, core_registry)
    assert len(info.value.issues) == 420
    lines = str(info.value).splitlines()
    assert lines[0] == f"Recipe {p} has 420 errors:" and len(lines) == 52 and lines[-1] == "  ... and 370 more"
