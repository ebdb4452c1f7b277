"""The `facerecon` command line: exit codes, messages without tracebacks, listings, help."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

import facerecon
from facerecon.cli import main
from facerecon.pluginmanager import DEFAULT_PLUGINS

TEST = "facerecon_test_components"
#: Only the test plugin: messages listing installed components stay fixed.
ONLY_TEST = ["--plugin", TEST, *[arg for name in DEFAULT_PLUGINS for arg in ("--disable-plugin", name)]]

GOOD = """
facerecon: 1
task: {type: job}
renderer: {type: widget, label: a}
stages:
  fit: {steps: 10, losses: {lm: {type: term}}}
"""
BAD = """
facerecon: 1
task: {type: job}
renderer: {type: widgt, label: a}
stages:
  fit: {steps: many}
"""


@pytest.fixture
def cli(monkeypatch):
    """``cli(*args)`` runs the command in-process with the test plugin only; returns click's Result."""
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str, plugins: list[str] = ONLY_TEST):
        return runner.invoke(main, [*plugins, *args], catch_exceptions=False)

    return invoke


def run_subprocess(*args: str) -> subprocess.CompletedProcess:
    """The real executable path: python -m facerecon.cli with the test plugin importable."""
    core = Path(__file__).resolve().parents[1] / "core"
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(core)}
    return subprocess.run([sys.executable, "-m", "facerecon.cli", *ONLY_TEST, *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_validate_ok(cli, write_recipe):
    path = write_recipe(GOOD)
    result = cli("validate", str(path))
    assert result.exit_code == 0
    assert result.output == f"ok {path}\n"


def test_every_shipped_recipe_validates_against_the_built_in_components(cli):
    """The recipes in recipes/ (the paper's included, whose BFM2009 files are not needed to validate)."""
    recipes = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))
    assert len(recipes) >= 10
    result = cli("validate", *map(str, recipes), plugins=[])
    assert result.exit_code == 0, result.output
    assert result.stdout == "".join(f"ok {path}\n" for path in recipes)


def test_validate_lists_every_error_without_traceback(cli, write_recipe):
    good, bad = write_recipe(GOOD, "good.yaml"), write_recipe(BAD, "bad.yaml")
    result = cli("validate", str(good), str(bad))
    assert result.exit_code == 2
    assert result.stdout == f"ok {good}\n"
    assert result.stderr == (
        f"Recipe {bad} has 2 errors:\n"
        f"  {bad}:3: renderer.type: unknown renderer 'widgt' (did you mean 'widget'?). Installed: gadget, widget\n"
        f"  {bad}:5: stages.fit.steps: expected int, got str 'many'\n"
    )
    assert "Traceback" not in result.output


def test_validate_with_set(cli, write_recipe):
    path = write_recipe(GOOD)
    assert cli("validate", str(path), "--set", "renderer.size=12").exit_code == 0
    result = cli("validate", str(path), "--set", "renderer.size=big")
    assert result.exit_code == 2
    assert "--set renderer.size=big: renderer.size: expected int, got str 'big'" in result.stderr


def test_run_writes_results_and_resolved_recipe(cli, write_recipe, tmp_path):
    out = tmp_path / "out"
    result = cli("run", str(write_recipe(GOOD)), "--output", str(out), "--device", "cpu", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert (out / "done.txt").read_text() == "fit"
    assert "1 result(s)" in result.stdout and "Widget" in result.stdout
    resolved = yaml.safe_load((out / "recipe.resolved.yaml").read_text())
    assert (resolved["output"], resolved["device"], resolved["seed"]) == (str(out), "cpu", 3)
    assert resolved["stages"]["fit"]["losses"]["lm"] == {"type": "term", "weight": 1.0, "power": 2}
    assert resolved["versions"] == {"facerecon": facerecon.__version__}


def test_run_bad_recipe_exits_2_without_traceback(write_recipe):
    bad = write_recipe(BAD)
    result = run_subprocess("run", str(bad))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: Recipe {bad} has 2 errors:\n"
        f"  {bad}:3: renderer.type: unknown renderer 'widgt' (did you mean 'widget'?). Installed: gadget, widget\n"
        f"  {bad}:5: stages.fit.steps: expected int, got str 'many'\n"
    )


def test_debug_shows_the_traceback(write_recipe):
    result = run_subprocess("--debug", "run", str(write_recipe(BAD)))
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr and "RecipeError" in result.stderr
    assert "error: Recipe" in result.stderr


def test_a_bug_is_reported_briefly(cli, write_recipe, tmp_path):
    path = write_recipe(GOOD.replace("task: {type: job}", "task: {type: job, fail: true}"))
    result = cli("run", str(path), "--output", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr == (
        "internal error: RuntimeError: the job broke. This is a bug in facerecon or a plugin; rerun with --debug "
        "for the traceback and report it.\n"
    )
    debug = cli("run", str(path), "--output", str(tmp_path / "out"), plugins=["--debug", *ONLY_TEST])
    assert "Traceback" in debug.stderr and 'raise RuntimeError("the job broke")' in debug.stderr


def test_unknown_plugin_module_is_a_clean_error():
    result = run_subprocess("--plugin", "no_such_module_here", "components")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: Plugin 'no_such_module_here' (--plugin, no_such_module_here) failed to import" in result.stderr


def test_describe_table(cli):
    result = cli("describe", "renderer", "widget")
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == f"renderer widget — a test renderer  (plugin {TEST})"
    assert lines[1] == "Parameters of the widget renderer."
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in lines if line.startswith("│")]
    assert rows == [
        ["size", "int (>= 1)", "64", "Image side in pixels."],
        ["scale", "float (> 0)", "1.0", "Scale factor."],
        ["mode", "one of fast|exact", "'fast'", "Speed/accuracy trade-off."],
        ["tags", "list[str]", "[]", "Free-form labels."],
        ["label", "str", "(required)", "A name that must be given."],
    ]


def test_describe_task_names_the_slots_it_needs(cli):
    lines = cli("describe", "task", "job").stdout.splitlines()
    assert lines[:3] == [f"task job — a test task  (plugin {TEST})", "Parameters of the test job.",
                         "recipe needs: renderer, stages"]


def test_describe_says_whether_the_component_is_available(cli):
    gadget = cli("describe", "renderer", "gadget").stdout.splitlines()
    assert gadget[2] == "not available here: 'facerecon_test_gadgetlib' is not installed: run `make gadget`."
    assert "available here" not in cli("describe", "renderer", "widget").stdout  # no check: nothing to say


def test_describe_unknown_component(cli):
    result = cli("describe", "renderer", "widgt")
    assert result.exit_code == 2
    assert result.stderr == "error: No renderer named 'widgt' (did you mean 'widget'?). Installed: gadget, widget.\n"
    bad_kind = cli("describe", "renderers", "widget")
    assert bad_kind.exit_code == 2
    assert bad_kind.stderr.startswith("error: Unknown component kind 'renderers' (did you mean 'renderer'?). Known kinds: task, ")


def test_components_listing(cli):
    every = cli("components").stdout
    only = cli("components", "--kind", "renderer").stdout
    for name in ("job", "widget", "gadget", "term"):
        assert f"│ {name} " in every
    assert "│ widget " in only and "│ gadget " in only and "│ job " not in only and "│ term " not in only


def test_plugins_listing(cli):
    result = cli("plugins")
    assert result.exit_code == 0
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in result.stdout.splitlines() if line.startswith("│")]
    assert rows == [[TEST, "--plugin", "-", "-", "4"]]
    assert "blocked: " + ", ".join(DEFAULT_PLUGINS) in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "renderer gadget: not available here: 'facerecon_test_gadgetlib' is not installed: run `make gadget`.")


def test_builtin_plugins_listing(cli):
    result = cli("plugins", plugins=[])
    names = [line.strip("│ ").split("│")[0].strip() for line in result.stdout.splitlines() if line.startswith("│")]
    assert names == list(DEFAULT_PLUGINS)


def test_recipe_show(cli, write_recipe):
    write_recipe(GOOD, "base.yaml")
    child = write_recipe("extends: base.yaml\nseed: 2\n", "child.yaml")
    plain = yaml.safe_load(cli("recipe", "show", str(child), "--set", "renderer.size=9").stdout)
    assert plain["seed"] == 2 and plain["renderer"] == {"type": "widget", "label": "a", "size": 9}
    assert "versions" not in plain
    resolved = yaml.safe_load(cli("recipe", "show", "--resolved", str(child)).stdout)
    assert resolved["renderer"] == {"type": "widget", "size": 64, "scale": 1.0, "mode": "fast", "tags": [], "label": "a"}
    assert resolved["versions"] == {"facerecon": facerecon.__version__} and resolved["device"] == "auto"


def test_recipe_show_resolved_of_a_bad_recipe(cli, write_recipe):
    result = cli("recipe", "show", "--resolved", str(write_recipe(BAD)))
    assert result.exit_code == 2 and result.stderr.startswith("error: Recipe ") and "Traceback" not in result.output


def _commands(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, path + (name,))


COMMANDS = list(_commands(main))


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) or "facerecon" for p, _ in COMMANDS])
def test_help_of_every_command(cli, path, command):
    result = cli(*path, "--help", plugins=[])
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ") and "Traceback" not in result.output
    first_paragraph = command.help.split("\n\n")[0]
    assert " ".join(first_paragraph.split()) in " ".join(result.output.split())


def test_version(cli):
    result = cli("--version", plugins=[])
    assert result.exit_code == 0 and facerecon.__version__ in result.output


def test_few_wide_results_print_one_column_each(capsys, monkeypatch):
    """Three results with twelve values: a column per result, a row per value (fits a terminal)."""
    from rich.console import Console

    import facerecon.cli
    from facerecon.cli import _print_summary
    from facerecon.interfaces import RunSummary

    monkeypatch.setattr(facerecon.cli, "console", Console(highlight=False, force_terminal=True, width=120))
    values = {f"metric_{i}": i + 0.5 for i in range(11)}
    _print_summary(RunSummary(rows=[{"variant": name, **values} for name in ("full", "landmarks", "mean-face")]))
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if "variant" in line)
    assert all(name in header for name in ("full", "landmarks", "mean-face"))
    assert sum(line.startswith("│ metric_") for line in lines) == 11


def test_results_in_a_log_are_one_json_line_each(capsys):
    """Not on a terminal (a log, a pipe), every row is one JSON line with its full keys and values,
    however many columns: nothing is cut to fit a width."""
    from facerecon.cli import _print_summary
    from facerecon.interfaces import RunSummary

    rows = [{"face": f"photo_{i}", "status": "ok", "preview": "/x/render.png",
             **{f"a_rather_long_metric_name_{k}": k + i / 3 for k in range(14)}} for i in range(3)]
    _print_summary(RunSummary(rows=rows, skipped=[("blank", "no face detected")], seconds=2.5))
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines[:3]] == [{k: v for k, v in row.items() if k != "preview"} for row in rows]
    assert lines[3:] == ["skipped blank: no face detected", "3 result(s), 1 skipped, in 2.5 s"]


def test_python_dash_m_facerecon_is_the_cli():
    """``python -m facerecon`` runs the same command line, under the name facerecon."""
    result = subprocess.run([sys.executable, "-m", "facerecon", "--help"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: facerecon ") and "validate" in result.stdout
