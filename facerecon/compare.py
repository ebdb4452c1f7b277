"""``facerecon compare``: run several recipes or variants on the same inputs and tabulate them.

Writes into the comparison folder: one sub-folder per variant (its normal run output, with its
own report), ``comparison.md`` and ``comparison.csv`` (one row per variant and face, then
per-variant means), ``comparison.png`` (the means as small multiples: one panel per metric, with
its unit), ``grid_<face>.png`` (each variant's preview image of that face, stacked and labelled),
``comparison.html`` (all of it on one self-contained page, each face's results side by side with
3D views) and ``comparison.json`` (what the page is made from; ``facerecon report`` rebuilds the
page from it).

One variant never stops the others: a variant whose recipe names a component that cannot be
built here (:meth:`facerecon.registry.ComponentSpec.unavailable`, e.g. redner not installed) is
not run and gets one row with the status ``unavailable (reason)``; a variant whose run fails gets
``failed (reason)``; the rest are compared.

When the inputs carry ground truth (samples with ``truth``, e.g. the ``synthetic-faces``
dataset), every variant also writes :data:`~facerecon.evaluation.prediction.PREDICTION_FILE` per
face (through the exporter named :data:`PREDICTION_EXPORTER`) and each face's row gets the
accuracy metrics of :func:`facerecon.evaluation.scoring.score_prediction` (geometry in mm,
landmarks, albedo, light, PSNR), so recipes compare on accuracy and time in one table.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FaceReconError
from .io import atomic_path, atomic_write
from .pluginmanager import PluginHost

__all__ = ["Variant", "ComparisonResult", "collect_variants", "run_comparison", "PREDICTION_EXPORTER",
           "COMPARISON_STATE", "rebuild_comparison_report", "unavailable_reason"]

#: The registered exporter that writes prediction files (the built-in evaluation plugin's); a
#: comparison on inputs with ground truth adds it to every variant when it is registered.
PREDICTION_EXPORTER = "prediction"
#: What a comparison's page is made from, in its folder (variants, their folders and rows).
COMPARISON_STATE = "comparison.json"


@dataclass(frozen=True)
class Variant:
    """One thing to compare: a recipe plus overrides."""

    name: str
    recipe: Path
    sets: tuple[str, ...] = ()


@dataclass
class ComparisonResult:
    """Rows (variant, face, metrics...) and the files written."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "variant"


def collect_variants(recipes: list[Path], host: PluginHost, extra: list[str]) -> list[Variant]:
    """Variants from the recipes' ``variants:`` maps and ``--variant NAME=KEY=V[;KEY=V]`` options.

    A recipe without ``variants`` is one variant named after its file; with ``--variant`` options
    the options replace the recipes' own variant lists.
    """
    from .recipe import load_recipe

    variants: list[Variant] = []
    for path in recipes:
        recipe = load_recipe(path, host.registry)
        if extra:
            for option in extra:
                name, sep, sets = option.partition("=")
                if not sep or not name:
                    raise FaceReconError(f"--variant expects NAME=KEY.PATH=VALUE[;KEY.PATH=VALUE...], got {option!r}.")
                prefix = f"{path.stem}/" if len(recipes) > 1 else ""
                variants.append(Variant(prefix + name, path, tuple(s for s in sets.split(";") if s)))
        elif recipe.root.variants:
            prefix = f"{path.stem}/" if len(recipes) > 1 else ""
            variants += [Variant(prefix + name, path, tuple(sets)) for name, sets in recipe.root.variants.items()]
        else:
            variants.append(Variant(path.stem, path))
    names = [v.name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FaceReconError(f"Two variants are named {', '.join(duplicates)}; give each a distinct name.")
    return variants


def run_comparison(
    variants: list[Variant], host: PluginHost, output: Path, input: str | None = None,
    sets: tuple[str, ...] = (), device: str | None = None, seed: int | None = None, debug: bool = False,
) -> ComparisonResult:
    """Run every variant into ``output/<variant>`` and write the table, plots, image grids and page.

    A variant that cannot run here, or whose run fails, is one row saying why (see module doc).
    """
    from .recipe import load_recipe
    from .runner import run_recipe

    result = ComparisonResult()
    # Validate every variant before running any, so a typo in the last one costs nothing.
    recipes = {variant.name: load_recipe(variant.recipe, host.registry, tuple(sets) + variant.sets)
               for variant in variants}
    states = []
    for variant in variants:
        folder = output / _slug(variant.name)
        reason = unavailable_reason(recipes[variant.name], host)
        if reason is not None:
            result.rows.append({"variant": variant.name, "face": "", "status": f"unavailable ({_first_sentence(reason)})",
                                "reason": reason})
            states.append({"name": variant.name, "folder": None, "status": "unavailable", "reason": reason})
            continue
        try:
            truths = _samples_with_truth(variant, host, tuple(sets), input)
            extra = ()
            if truths and PREDICTION_EXPORTER in host.registry.names("exporter"):
                extra = (f"exporters._comparison_prediction={{type: {PREDICTION_EXPORTER}}}",)
            summary = run_recipe(variant.recipe, host, tuple(sets) + variant.sets + extra, input, str(folder), device,
                                 seed, debug)
        except Exception as exc:  # noqa: BLE001 - one variant's failure costs that variant, not the comparison
            if debug:
                raise
            reason = str(exc) if isinstance(exc, FaceReconError) else (
                f"internal error: {type(exc).__name__}: {exc}. This is a bug in facerecon or a plugin; rerun with --debug")
            result.rows.append({"variant": variant.name, "face": "", "status": f"failed ({_first_sentence(reason)})",
                                "reason": reason})
            states.append({"name": variant.name, "folder": folder.name, "status": "failed", "reason": reason})
            continue
        for row in summary.rows:
            accuracy = _accuracy(row, folder, truths) if truths else {}
            result.rows.append({"variant": variant.name, **row, **accuracy})
        for item, reason in summary.skipped:
            result.rows.append({"variant": variant.name, "face": item, "status": f"skipped: {reason}"})
        states.append({"name": variant.name, "folder": folder.name, "status": "ran", "reason": ""})
    output.mkdir(parents=True, exist_ok=True)
    result.files += _write_tables(result.rows, output)
    result.files += _write_plot(result.rows, output)
    result.files += _write_grids(result.rows, output)
    with atomic_write(output / COMPARISON_STATE) as handle:
        json.dump({"variants": states, "rows": [_plain_row(r) for r in result.rows]}, handle, indent=1, default=str)
    result.files += [output / COMPARISON_STATE, *rebuild_comparison_report(output)]
    return result


def unavailable_reason(recipe: Any, host: PluginHost) -> str | None:
    """Why a validated recipe cannot run here: the first of its components whose
    :meth:`~facerecon.registry.ComponentSpec.unavailable` names what is missing (None when all can)."""
    from .recipe import component_nodes

    seen = set()
    for node in component_nodes(recipe):
        if (node.kind, node.type) in seen:
            continue
        seen.add((node.kind, node.type))
        reason = host.registry.get(node.kind, node.type).unavailable()
        if reason is not None:
            return f"{node.kind} {node.type}: {reason}"
    return None


def _first_sentence(text: str) -> str:
    """The first sentence of a reason, for a table cell."""
    match = re.match(r"(.+?[.;])(\s|$)", text.strip(), re.S)
    return (match.group(1).rstrip(".;") if match else text.strip()).replace("\n", " ")


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row without file lists, with non-finite numbers as None (valid JSON)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items() if k != "outputs"}


def rebuild_comparison_report(output: Path) -> list[Path]:
    """Write ``comparison.html`` from ``comparison.json``, the variant folders and
    ``comparison.png``; return the path written."""
    from .report.folder import read_run
    from .report.html import comparison_page

    try:
        state = json.loads((output / COMPARISON_STATE).read_text())
    except (OSError, ValueError) as exc:
        raise FaceReconError(f"{output / COMPARISON_STATE} cannot be read ({exc}); rerun the comparison.") from None
    rows = [{k: (math.nan if v is None else v) for k, v in row.items()} for row in state.get("rows", [])]
    variants = [(v["name"], read_run(output / v["folder"]) if v.get("folder") and (output / v["folder"]).is_dir()
                 else None, v.get("status", ""), v.get("reason", "")) for v in state.get("variants", [])]
    plot = output / "comparison.png"
    page = comparison_page(f"facerecon comparison: {output.resolve().name}", _columns(rows), rows, _means(rows),
                           plot if plot.is_file() else None, variants)
    with atomic_write(output / "comparison.html") as handle:
        handle.write(page)
    return [output / "comparison.html"]


def _samples_with_truth(variant: Variant, host: PluginHost, sets: tuple[str, ...], input: str | None) -> dict:
    """The variant's input samples that carry ground truth, by name (empty for ordinary photos)."""
    from .api import cache_dir, resolve_device
    from .recipe import Builder, load_recipe

    recipe = load_recipe(variant.recipe, host.registry, sets + variant.sets, {"dataset.input": input})
    if recipe.root.dataset is None:
        return {}
    dataset = Builder(host.registry, resolve_device("cpu"), cache_dir(), recipe)("dataset")
    return {sample.name: sample for sample in dataset if sample.truth is not None and sample.error is None}


def _accuracy(row: dict[str, Any], folder: Path, samples: dict) -> dict[str, float]:
    """The accuracy metrics of one result row's face against its sample's truth (empty without both)."""
    from .evaluation.prediction import PREDICTION_FILE, load_prediction
    from .evaluation.scoring import score_prediction
    from .evaluation.truth import load_truth

    face = str(row.get("face", ""))
    name = face if face in samples else face.rsplit("_face", 1)[0]
    path = folder / face / PREDICTION_FILE
    if name not in samples or row.get("status") not in ("ok", "suspect", "resumed") or not path.is_file():
        return {}
    sample = samples[name]
    return score_prediction(load_prediction(path), load_truth(sample.truth), sample.image).metrics


def _numeric_columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        for key, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in columns:
                columns.append(key)
    return columns


def _means(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numeric = _numeric_columns(rows)
    out = []
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant and r.get("status") in ("ok", "resumed")]
        if not mine:
            continue
        mean: dict[str, Any] = {"variant": variant, "face": f"mean of {len(mine)}"}
        for key in numeric:
            values = [r[key] for r in mine if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
            mean[key] = sum(values) / len(values) if values else math.nan
        out.append(mean)
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ""
    return str(value)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return ["variant", "face", "status"] + _numeric_columns(rows)


def _write_tables(rows: list[dict[str, Any]], output: Path) -> list[Path]:
    table = rows + _means(rows)
    columns = _columns(rows)
    with atomic_write(output / "comparison.csv") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in table:
            writer.writerow([_cell(row.get(c, "")) for c in columns])
    text = io.StringIO()
    text.write("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n")
    for row in table:
        text.write("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |\n")
    with atomic_write(output / "comparison.md") as handle:
        handle.write(text.getvalue())
    return [output / "comparison.csv", output / "comparison.md"]


def _write_plot(rows: list[dict[str, Any]], output: Path) -> list[Path]:
    """``comparison.png``: small multiples, one panel per metric (titled with its unit), one bar per
    variant (the mean over its faces, labelled with its value)."""
    from .report.values import unit_of

    means = _means(rows)
    numeric = [key for key in _numeric_columns(rows) if any(math.isfinite(m.get(key, math.nan)) for m in means)]
    if not numeric or not means:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(4, len(numeric))
    lines = math.ceil(len(numeric) / columns)
    names = [m["variant"] for m in means]
    width = max(3.2, 0.9 * len(names) + 1.4)
    fig, axes = plt.subplots(lines, columns, figsize=(width * columns, 2.9 * lines), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, key in zip(axes.flat, numeric):
        values = [m.get(key, math.nan) for m in means]
        bars = ax.bar(range(len(names)), values, color=[colours[i % len(colours)] for i in range(len(names))])
        ax.bar_label(bars, labels=["" if not math.isfinite(v) else f"{v:.3g}" for v in values], fontsize=8, padding=2)
        ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 3 else 0, ha="right" if len(names) > 3 else "center",
                      fontsize=9)
        unit = unit_of(key)
        ax.set_title(key, fontsize=10)
        ax.set_ylabel(unit, fontsize=9)
        ax.margins(y=0.18)
        ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[len(numeric):]:
        ax.set_visible(False)
    fig.suptitle("mean over each variant's faces", fontsize=11)
    fig.tight_layout()
    with atomic_path(output / "comparison.png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return [output / "comparison.png"]


def _write_grids(rows: list[dict[str, Any]], output: Path) -> list[Path]:
    """Per face: every variant's preview image stacked top to bottom, labelled with the variant."""
    import cv2
    import numpy as np

    from .imaging import read_image, write_image

    written = []
    faces = dict.fromkeys(r.get("face") for r in rows if r.get("preview"))
    for face in faces:
        panels = []
        for row in rows:
            if row.get("face") != face or not row.get("preview") or not Path(row["preview"]).exists():
                continue
            image = read_image(row["preview"])
            label = np.full((28, image.shape[1], 3), 255, np.uint8)
            cv2.putText(label, str(row["variant"]), (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
            panels.append(np.concatenate([label, image], 0))
        if not panels:
            continue
        width = max(p.shape[1] for p in panels)
        panels = [np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0)), constant_values=255) for p in panels]
        path = output / f"grid_{_slug(str(face))}.png"
        write_image(path, np.concatenate(panels, 0))
        written.append(path)
    return written
