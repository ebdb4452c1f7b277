"""The ``facerecon`` command line."""
from __future__ import annotations

import dataclasses
import inspect
import signal
import sys
import threading
import traceback
import typing
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import FaceReconError
from .params import field_doc, field_limits, is_required
from .pluginmanager import PluginHost, load_plugins
from .registry import PluginWarning

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class _State:
    """Options shared by all sub-commands."""

    def __init__(self, plugins: tuple[str, ...], disabled: tuple[str, ...], debug: bool) -> None:
        self.plugin_modules, self.disabled, self.debug = plugins, disabled, debug
        self._host: PluginHost | None = None

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PluginWarning)  # printed below, once, without a source line
                self._host = load_plugins(self.plugin_modules, self.disabled)
            for message in self._host.registry.warnings:
                err_console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)
        return self._host


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: finished results are kept and the exit status says which signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_terminate(signum, frame) -> None:
    raise _Terminated(signum)


class _Group(click.Group):
    """Turns user errors into one paragraph and an exit code; ``--debug`` shows tracebacks."""

    def invoke(self, ctx: click.Context):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_terminate)
        try:
            return super().invoke(ctx)
        except FaceReconError as exc:
            if _debug(ctx):
                traceback.print_exc()
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt as exc:
            err_console.print("interrupted; finished results are kept and a rerun resumes.")
            sys.exit(128 + exc.signum if isinstance(exc, _Terminated) else 130)
        except Exception as exc:  # a bug: say so briefly, details with --debug
            if _debug(ctx):
                traceback.print_exc()
            err_console.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}. This is a bug in facerecon or a plugin; "
                "rerun with --debug for the traceback and report it.", markup=True, soft_wrap=True)
            sys.exit(1)


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.params.get("debug")) or "--debug" in sys.argv


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--plugin", "plugins", multiple=True, metavar="MODULE",
              help="Load an importable module as a plugin (for plugins under development). Repeatable.")
@click.option("--disable-plugin", "disabled", multiple=True, metavar="NAME",
              help="Block a plugin by name (see `facerecon plugins`). Repeatable.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="facerecon")
@click.pass_context
def main(ctx: click.Context, plugins: tuple[str, ...], disabled: tuple[str, ...], debug: bool) -> None:
    """facerecon: monocular 3D face reconstruction from recipes of plugins.

    Third-party plugins load from the `facerecon` entry-point group unless the environment
    variable FACERECON_DISABLE_PLUGIN_AUTOLOAD=1 is set.
    """
    ctx.obj = _State(plugins, disabled, debug)


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "input_", metavar="PATH", help="Image file, folder or glob (sets dataset.input).")
@click.option("--output", metavar="DIR", help="Output folder (overrides the recipe's `output`).")
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a recipe value, e.g. --set stages.photo.steps=100. Repeatable.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Compute device.")
@click.option("--seed", type=int, help="Random seed.")
@click.option("--resume", is_flag=True, help="Continue a run from where it stopped (sets task.resume=true), "
              "e.g. a training run from its last checkpoint.")
@click.pass_obj
def run(state: _State, recipe: Path, input_, output, sets, device, seed, resume) -> None:
    """Run RECIPE: build its components and execute its task.

    Writes results, recipe.resolved.yaml, summary.json, failures.csv, report.html (every face at a
    glance, with a 3D view) and contact_sheet.png into the output folder; a rerun skips items this
    recipe already finished. On a terminal the results end in a table; in a log or a pipe, one JSON
    line per face. Exit status: 0 when every input gave a
    result, 1 when some failed (the others are written), 2 for recipe errors, 130 when interrupted.
    """
    from .runner import run_recipe

    sets = tuple(sets) + (("task.resume=true",) if resume else ())
    summary = run_recipe(recipe, state.host, sets, input_, output, device, seed, state.debug)
    _print_summary(summary)
    if summary.skipped:  # the rest is written; summary.json and failures.csv say what failed
        sys.exit(1)


#: Row keys that are for other tools (file paths), not for the printed table.
_HIDDEN_COLUMNS = {"preview", "outputs"}
#: More columns than this, in at most this many rows, print transposed (a column per row).
_WIDE = 8


def _print_summary(summary) -> None:
    """The run's rows as a table on a terminal; elsewhere (a log, a pipe) one JSON line per item,
    which no column width can cut."""
    if not console.is_terminal:
        _print_summary_lines(summary)
        return
    title = f"{len(summary.rows)} result(s) in {summary.seconds:.1f} s"
    columns: list[str] = []
    for row in summary.rows:
        columns += [k for k in row if k not in columns and k not in _HIDDEN_COLUMNS]
    if len(summary.rows) == 1:  # one result: a key/value table fits any terminal
        table = Table(title=title)
        table.add_column("")
        table.add_column("value")
        for column in columns:
            table.add_row(column, _fmt(summary.rows[0].get(column, "")))
        console.print(table)
    elif len(columns) > _WIDE and len(summary.rows) <= _WIDE:  # few results, many values: one column each
        table = Table(title=title)
        table.add_column(columns[0])
        for row in summary.rows:
            table.add_column(_fmt(row.get(columns[0], "")))
        for column in columns[1:]:
            table.add_row(column, *[_fmt(row.get(column, "")) for row in summary.rows])
        console.print(table)
    elif summary.rows:
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in summary.rows:
            table.add_row(*[_fmt(row.get(c, "")) for c in columns])
        console.print(table)
    for item, reason in summary.skipped:
        console.print(f"[yellow]skipped[/] {escape(str(item))}: {escape(str(reason))}", soft_wrap=True)


def _print_summary_lines(summary) -> None:
    """One JSON object per result row (``{"face": ..., "status": ..., ...}``), the skipped inputs
    as ``skipped NAME: reason`` lines, then one line with the totals."""
    import json
    import math

    for row in summary.rows:
        shown = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in row.items() if k not in _HIDDEN_COLUMNS}
        click.echo(json.dumps(shown, default=str))
    for item, reason in summary.skipped:
        click.echo(f"skipped {item}: {reason}")
    click.echo(f"{len(summary.rows)} result(s), {len(summary.skipped)} skipped, in {summary.seconds:.1f} s")


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@main.command()
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--variant", "variants", multiple=True, metavar="NAME=KEY.PATH=VALUE[;...]",
              help="A variant to compare, e.g. --variant mitsuba=renderer.type=mitsuba. Repeatable; replaces "
              "the recipes' own `variants:`.")
@click.option("--input", "input_", metavar="PATH", help="Image file, folder or glob (sets dataset.input).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs/compare"),
              show_default=True, help="Comparison folder.")
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a value in every variant.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Compute device.")
@click.option("--seed", type=int, help="Random seed.")
@click.pass_obj
def compare(state: _State, recipes, variants, input_, output, sets, device, seed) -> None:
    """Run several recipes or variants on the same inputs and compare them.

    Each RECIPE contributes its `variants:` (named lists of overrides), or itself as one variant.
    Writes comparison.md/.csv (time per face, final losses, landmark error...), comparison.png (one
    panel per metric), one grid_<face>.png per face and comparison.html (all of it, with each face's
    results side by side in 3D). A variant that needs a component this installation lacks (redner
    not built, say) is marked unavailable with the reason, and the others are compared.
    """
    from .compare import collect_variants, run_comparison

    chosen = collect_variants(list(recipes), state.host, list(variants))
    console.print("comparing: " + ", ".join(v.name for v in chosen))
    result = run_comparison(chosen, state.host, output, input_, tuple(sets), device, seed, state.debug)
    console.print((output / "comparison.md").read_text(), markup=False, soft_wrap=True)
    for row in result.rows:
        if not row.get("face") and row.get("reason"):
            err_console.print(f"[yellow]{escape(str(row['variant']))}:[/] {escape(str(row['status']).split(' ')[0])}: "
                              f"{escape(str(row['reason']))}", soft_wrap=True)
    for path in result.files:
        console.print(f"wrote {path}", markup=False)


@main.command()
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
def report(output: Path) -> None:
    """(Re)write OUTPUT/report.html and contact_sheet.png from a run's output folder.

    The report is one self-contained page (it opens offline and can be sent on its own): every
    face's status, input | overlay | render, an interactive 3D view of its mesh, its numbers,
    pictures and recipe. `facerecon run` writes it at the end of every run; this rebuilds it, e.g.
    after a run was stopped. A comparison folder gets its comparison.html rebuilt instead.
    """
    from .compare import COMPARISON_STATE, rebuild_comparison_report
    from .report import write_report

    if not output.is_dir():
        raise FaceReconError(f"{output} is not a folder. Give the output folder of a run (the --output of "
                             "`facerecon run`, or the recipe's `output`).")
    if (output / COMPARISON_STATE).is_file():
        written = rebuild_comparison_report(output)
    elif (output / "summary.json").is_file() or any(output.glob("*/.complete.json")):
        written = write_report(output)
    else:
        raise FaceReconError(f"{output} holds no results of a run (no summary.json and no finished face folder). "
                             "Give the output folder of a run.")
    for path in written:
        click.echo(f"wrote {path}")


@main.command()
@click.argument("recipes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a value before validating.")
@click.pass_obj
def validate(state: _State, recipes: tuple[Path, ...], sets) -> None:
    """Check recipes against the installed components without running anything."""
    from .recipe import RecipeError, load_recipe

    failed = 0
    for path in recipes:
        try:
            load_recipe(path, state.host.registry, sets)
            console.print(f"[green]ok[/] {escape(str(path))}")
        except RecipeError as exc:
            failed += 1
            err_console.print(str(exc), markup=False, soft_wrap=True)
    if failed:
        sys.exit(2)


@main.command()
@click.pass_obj
def plugins(state: _State) -> None:
    """List loaded plugins, where they come from and their distributions."""
    host = state.host
    counts: dict[str, int] = {}
    for spec in host.registry:
        counts[spec.provider] = counts.get(spec.provider, 0) + 1
    table = Table(title="facerecon plugins")
    for column in ("plugin", "origin", "distribution", "version", "components"):
        table.add_column(column)
    for info in host.plugins:
        dist, version = info.distribution or ("-", "-")
        table.add_row(*map(escape, (info.name, info.origin, dist, version, str(counts.get(info.name, 0)))))
    console.print(table)
    if host.blocked:
        console.print("blocked: " + ", ".join(host.blocked), markup=False, soft_wrap=True)
    for spec in host.registry:
        if spec.check is not None:
            console.print(f"{spec.kind} {spec.name}: {_availability(spec)}", markup=False, soft_wrap=True)


def _availability(spec) -> str:
    """Whether a component with a ``check`` can be built here, and if not what is missing and the fix."""
    reason = spec.unavailable()
    return "available here" if reason is None else f"not available here: {reason}"


@main.command()
@click.pass_obj
def kinds(state: _State) -> None:
    """List component kinds: what they do, their recipe slot and the plugin that added them."""
    table = Table(title="facerecon kinds")
    for column in ("kind", "recipe slot", "components", "plugin", "description"):
        table.add_column(column)
    for kind in state.host.registry.kinds.values():
        count = str(len(state.host.registry.names(kind.name)))
        table.add_row(*map(escape, (kind.name, kind.slot or "-", count, kind.provider, kind.doc)))
    console.print(table)


@main.command()
@click.option("--kind", metavar="KIND", help="Only this kind (see `facerecon kinds`).")
@click.pass_obj
def components(state: _State, kind: str | None) -> None:
    """List registered components by kind."""
    if kind is not None:
        state.host.registry.kind(kind)  # an unknown kind is an error with a did-you-mean
    table = Table(title="facerecon components")
    for column in ("kind", "name", "plugin", "summary"):
        table.add_column(column)
    for spec in state.host.registry:
        if kind is None or spec.kind == kind:
            table.add_row(*map(escape, (spec.kind, spec.name, spec.provider, spec.summary)))
    console.print(table)


@main.command()
@click.argument("kind")
@click.argument("name")
@click.pass_obj
def describe(state: _State, kind: str, name: str) -> None:
    """Show a component's parameters: types, limits, defaults and documentation.

    KIND is a component kind (`facerecon kinds` lists them), NAME a registered component.
    """
    from .recipe.validate import describe_type

    spec = state.host.registry.get(kind, name)
    summary = f" — {escape(spec.summary)}" if spec.summary else ""
    console.print(f"[bold]{kind} {escape(name)}[/]{summary}  (plugin {escape(spec.provider)})")
    doc = inspect.cleandoc(spec.params.__doc__ or "")
    if doc and not doc.startswith(spec.params.__name__ + "("):
        console.print(doc, markup=False)
    if spec.requires:
        console.print("recipe needs: " + ", ".join(spec.requires), markup=False)
    for slot, names in spec.needs.items():
        console.print(f"works only with the {slot}: " + ", ".join(names), markup=False)
    if spec.check is not None:
        console.print(_availability(spec), markup=False, soft_wrap=True)
    hints = typing.get_type_hints(spec.params, include_extras=True)
    table = Table()
    for column in ("parameter", "type", "default", "description"):
        table.add_column(column)
    for f in dataclasses.fields(spec.params):
        if is_required(f):
            default = "(required)"
        elif f.default is not dataclasses.MISSING:
            default = repr(f.default)
        else:
            default = repr(f.default_factory())  # type: ignore[misc]
        limits = field_limits(f).describe()
        kind_text = describe_type(hints[f.name]) + (f" ({limits})" if limits else "")
        table.add_row(*map(escape, (f.name, kind_text, default, field_doc(f))))
    console.print(table)


@main.group()
def recipe() -> None:
    """Inspect recipes."""


@recipe.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--resolved", is_flag=True, help="Fill every default and name plugin versions.")
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a value first.")
@click.pass_obj
def recipe_show(state: _State, path: Path, resolved: bool, sets) -> None:
    """Print a recipe after `extends:` and `--set` (and with --resolved, all defaults)."""
    import yaml

    from .recipe import apply_sets, load_recipe, resolved_tree
    from .recipe.yamlio import load_recipe_tree

    if resolved:
        tree = resolved_tree(load_recipe(path, state.host.registry, sets), state.host.registry)
    else:
        locations: dict = {}
        tree = apply_sets(load_recipe_tree(path, locations), sets, locations)
    click.echo(yaml.safe_dump(tree, sort_keys=False, default_flow_style=None), nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
