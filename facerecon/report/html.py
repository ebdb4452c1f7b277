"""Self-contained HTML pages: a run's report and a comparison's.

Everything a page shows is inside the file: pictures as data URIs, meshes packed by
:mod:`facerecon.report.meshdata` in ``<script type="application/json">`` elements, the style
sheet and the 3D viewer (three.js bundled into ``assets/viewer.js`` at setup time, see the
Makefile) inline. The page loads nothing from anywhere, so it works from ``file://`` offline
and can be sent on its own. When the viewer was not built the page says so where the 3D views
would be.
"""
from __future__ import annotations

import base64
import datetime
import html
import io
import json
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .contact import face_panels
from .folder import FaceRecord, RunRecord
from .meshdata import mesh_payload
from .values import GROUPS, format_value, group_of, unit_of

__all__ = ["Page", "run_page", "comparison_page", "VIEWER_ASSET", "viewer_script", "image_uri"]

ASSETS = Path(__file__).resolve().parent / "assets"
#: The bundled 3D viewer (built from ``viewer/`` by ``make``; not in the repository).
VIEWER_ASSET = ASSETS / "viewer.js"
#: Pictures larger than this go into the page as JPEG.
_PNG_LIMIT = 150_000
#: Faces shown in full (3D view, pictures); those after them get their numbers only, which keeps
#: the page of a large batch openable (a face in full adds about 1.5 MB).
DETAILED_FACES = 100
_CONTACT_HEIGHT = 160


def viewer_script() -> str | None:
    """The viewer's JavaScript, or None when it was not built."""
    try:
        return VIEWER_ASSET.read_text(encoding="utf-8")
    except OSError:
        return None


def _script_json(value: Any) -> str:
    """JSON that cannot end the <script> element it is in."""
    return json.dumps(value).replace("</", "<\\/")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _status_class(status: str) -> str:
    known = {"ok", "resumed", "suspect", "failed"}
    return f"status-{status if status in known else 'other'}"


def image_uri(source: Path | np.ndarray) -> str | None:
    """A data URI of a picture file or a (H, W, 3) uint8 array (PNG, JPEG when large); None when
    the file cannot be read."""
    if isinstance(source, np.ndarray):
        buffer = io.BytesIO()
        from PIL import Image

        Image.fromarray(source).save(buffer, format="JPEG", quality=88)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    try:
        data = Path(source).read_bytes()
    except OSError:
        return None
    if len(data) <= _PNG_LIMIT:
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=88)
    except (OSError, UnidentifiedImageError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def numbers_table(values: dict[str, Any]) -> str:
    """A face's values as a table grouped into metrics, losses and timings, with units."""
    rows = []
    for group in GROUPS:
        keys = [k for k in values if group_of(k) == group]
        if not keys:
            continue
        rows.append(f'<tr><th colspan="3">{group}</th></tr>')
        for key in keys:
            value = values[key]
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            rows.append(f'<tr><td>{_esc(key)}</td><td class="{"num" if numeric else ""}">{_esc(format_value(value))}'
                        f'</td><td class="muted">{_esc(unit_of(key))}</td></tr>')
    return f'<table class="numbers">{"".join(rows)}</table>' if rows else ""


class Page:
    """An HTML page under construction: body parts, plus the meshes its 3D views show."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []
        self.meshes: list[dict[str, Any]] = []
        self.viewer = viewer_script()

    def add(self, text: str) -> None:
        """Append HTML to the body."""
        self.parts.append(text)

    def mesh_view(self, mesh: Path | None, label: str) -> str:
        """The HTML of a 3D view of ``mesh`` (a note when there is none or no viewer)."""
        if mesh is None:
            return '<div class="mesh3d"><p class="mesh3d-note">No mesh file in this result.</p></div>'
        if self.viewer is None:
            return ('<div class="mesh3d"><p class="mesh3d-note">The 3D viewer is not installed '
                    '(run <code>make</code>, which builds it with npm).</p></div>')
        payload = mesh_payload(mesh)
        if payload is None:
            return f'<div class="mesh3d"><p class="mesh3d-note">{_esc(mesh.name)} could not be read as a mesh.</p></div>'
        index = len(self.meshes)
        self.meshes.append(payload)
        return (f'<div class="mesh3d" data-mesh="mesh-{index}" role="img" '
                f'aria-label="{_esc("3D view of " + label)}" title="drag to turn, wheel to zoom, right-drag to move"></div>')

    def html(self) -> str:
        """The whole page."""
        style = (ASSETS / "report.css").read_text(encoding="utf-8")
        meshes = "".join(f'<script type="application/json" id="mesh-{i}">{_script_json(m)}</script>\n'
                         for i, m in enumerate(self.meshes))
        viewer = f"<script>{self.viewer}</script>" if self.viewer and self.meshes else ""
        created = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<meta name="generator" content="facerecon ({_esc(created)})">'
                f"<title>{_esc(self.title)}</title><style>{style}</style></head>\n<body>\n"
                + "\n".join(self.parts) + "\n" + meshes + viewer + "\n</body></html>\n")


def _face_id(prefix: str, index: int) -> str:
    return f"{prefix}{index}"


def contact_card(face: FaceRecord, href: str) -> str:
    """One face of the HTML contact sheet: name, status, input | overlay | render, reason."""
    panels = face_panels(face, _CONTACT_HEIGHT) if face.folder is not None else None
    picture = (f'<img alt="{_esc(face.name)}: input, overlay, render" src="{image_uri(panels)}">'
               if panels is not None else '<div class="none">no result</div>')
    reason = f'<p class="reason">{_esc(face.reason)}</p>' if face.reason else ""
    return (f'<a class="card {_status_class(face.status)}" href="#{href}" data-face="{_esc(face.name)}">'
            f'<strong>{_esc(face.name)}</strong> <span class="badge">{_esc(face.status)}</span>'
            f"{picture}{reason}</a>")


def _recipe_details(path: Path | None, label: str) -> str:
    if path is None:
        return ""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    return f"<details><summary>{_esc(label)}</summary><pre>{_esc(text)}</pre></details>"


def face_article(page: Page, face: FaceRecord, anchor: str, run_recipe: str | None, detailed: bool = True) -> str:
    """A face's section: status and reason, 3D view and numbers, its pictures, its recipe (its
    numbers only when not ``detailed``)."""
    parts = [f'<article class="face {_status_class(face.status)}" id="{anchor}" data-face="{_esc(face.name)}">',
             f'<h3>{_esc(face.name)} <span class="badge">{_esc(face.status)}</span></h3>']
    if face.reason:
        parts.append(f'<p class="reason">{_esc(face.reason)}</p>')
    if face.folder is None:
        parts.append('<p class="muted">No result was written for this input.</p></article>')
        return "".join(parts)
    if not detailed:
        parts.append(f'{numbers_table(face.values)}<p class="muted">Shown in short (the first {DETAILED_FACES} faces '
                     f"are shown in full): its files are in {_esc(face.folder)}.</p></article>")
        return "".join(parts)
    parts.append(f'<div class="face-top">{page.mesh_view(face.mesh, face.name)}{numbers_table(face.values)}</div>')
    for index, picture in enumerate(face.pictures):
        uri = image_uri(picture)
        if uri is None:
            continue
        figure = (f'<figure><img alt="{_esc(picture.stem)} of {_esc(face.name)}" src="{uri}">'
                  f"<figcaption>{_esc(picture.name)}</figcaption></figure>")
        if index == 0:
            parts.append(figure + '<div class="gallery">')
        else:
            parts.append(figure)
    if face.pictures:
        parts.append("</div>")
    recipe = face.recipe
    if recipe is not None and (run_recipe is None or _body(recipe) != run_recipe):
        parts.append(_recipe_details(recipe, f"the recipe that made {face.name} ({recipe.name})"))
    elif recipe is not None:
        parts.append('<p class="muted">Made by the run\'s recipe (at the end of the page).</p>')
    parts.append("</article>")
    return "".join(parts)


def _body(path: Path | None) -> str | None:
    """A resolved recipe's text without its comment lines (face folders add one naming the hash)."""
    if path is None:
        return None
    try:
        return "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    except OSError:
        return None


def counts_line(counts: dict[str, int]) -> str:
    """'3 ok · 1 failed' with status colours."""
    return "".join(f'<span class="{_status_class(status)}"><span class="badge">{n}</span> {_esc(status)}</span>'
                   for status, n in counts.items())


def run_page(record: RunRecord, contact_sheet: Path | None = None) -> str:
    """The report of one run: contact sheet, then every face (see module doc)."""
    folder = record.folder.resolve()
    page = Page(f"facerecon report: {folder.name}")
    seconds = f" in {record.seconds:.1f} s" if record.seconds is not None else ""
    page.add(f'<header class="page"><h1>facerecon report: {_esc(folder.name)}</h1>'
             f'<p class="muted">{_esc(str(folder))} · {len(record.faces)} item(s){_esc(seconds)}</p>'
             f'<p class="counts">{counts_line(record.counts())}</p></header><main>')
    page.add('<h2 id="faces">Faces</h2><div class="sheet" id="contact-sheet">'
             + "".join(contact_card(face, _face_id("face-", i)) for i, face in enumerate(record.faces)) + "</div>")
    if contact_sheet is not None:
        page.add(f'<p class="muted">The same as a picture: {_esc(contact_sheet.name)}.</p>')
    run_recipe = _body(record.recipe)
    for index, face in enumerate(record.faces):
        page.add(face_article(page, face, _face_id("face-", index), run_recipe, detailed=index < DETAILED_FACES))
    page.add(_recipe_details(record.recipe, f"the run's recipe ({record.recipe.name})" if record.recipe else ""))
    page.add("</main>")
    return page.html()


def comparison_page(title: str, columns: list[str], rows: Iterable[dict[str, Any]], means: Iterable[dict[str, Any]],
                    plot: Path | None, variants: list[tuple[str, RunRecord | None, str, str]]) -> str:
    """The page of a comparison: its variants (name, run record or None, status, reason), its
    table, its plot, then each face with every variant's result side by side (panels, numbers,
    3D view)."""
    page = Page(title)
    listing = "".join(
        f'<li class="{_status_class("ok" if status == "ran" else "failed" if status == "failed" else "other")}">'
        f'<strong>{_esc(name)}</strong> <span class="badge">{_esc(status)}</span>'
        + (f' <span class="reason">{_esc(reason)}</span>' if reason else "") + "</li>"
        for name, _, status, reason in variants)
    page.add(f'<header class="page"><h1>{_esc(title)}</h1><ul class="variant-list" id="variants">{listing}</ul>'
             "</header><main>")
    head = "".join(f"<th>{_esc(c)}" + (f' <span class="muted">({_esc(unit_of(c))})</span>' if unit_of(c) else "")
                   + "</th>" for c in columns)
    body = []
    for row, css in [(r, "") for r in rows] + [(m, "mean") for m in means]:
        cells = []
        for column in columns:
            value = row.get(column, "")
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            status = str(row.get("status", "")) if column == "status" else ""
            word, rest = re.match(r"([\w-]*)[:]?\s*(.*)", status, re.S).groups() if status else ("", "")
            klass = "num" if numeric else (_status_class(word) if status else "")
            text = f'<span class="badge">{_esc(word)}</span> {_esc(rest)}' if status else _esc(format_value(value))
            cells.append(f'<td class="{klass}">{text}</td>')
        body.append(f'<tr class="{css}">' + "".join(cells) + "</tr>")
    page.add(f'<h2>Table</h2><div class="scroll"><table class="comparison" id="comparison-table"><thead><tr>{head}'
             f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')
    if plot is not None and (uri := image_uri(plot)) is not None:
        page.add(f'<h2>Means per variant</h2><figure><img alt="mean of each metric per variant" src="{uri}">'
                 f"<figcaption>{_esc(plot.name)}: the mean over each variant's faces, one panel per metric</figcaption></figure>")
    faces = list(dict.fromkeys(face.name for _, record, _, _ in variants if record is not None for face in record.faces))
    page.add("<h2>Faces side by side</h2>")
    for index, name in enumerate(faces):
        columns_html = []
        for variant, record, _, _ in variants:
            face = next((f for f in record.faces if f.name == name), None) if record is not None else None
            if face is None:
                columns_html.append(f'<div class="variant status-other"><h3>{_esc(variant)}</h3>'
                                    '<p class="muted">no result for this face</p></div>')
                continue
            panels = face_panels(face, _CONTACT_HEIGHT) if face.folder is not None else None
            picture = f'<img alt="{_esc(variant)}: {_esc(name)}" src="{image_uri(panels)}">' if panels is not None else ""
            reason = f'<p class="reason">{_esc(face.reason)}</p>' if face.reason else ""
            in_full = face.folder is not None and index < DETAILED_FACES // max(1, len(variants))
            view = page.mesh_view(face.mesh, f"{name} ({variant})") if in_full else ""
            columns_html.append(f'<div class="variant {_status_class(face.status)}"><h3>{_esc(variant)} '
                                f'<span class="badge">{_esc(face.status)}</span></h3>{picture}{reason}'
                                f"{numbers_table(face.values)}{view}</div>")
        page.add(f'<section class="compare-face" id="face-{index}" data-face="{_esc(name)}"><h3>{_esc(name)}</h3>'
                 f'<div class="variants">{"".join(columns_html)}</div></section>')
    page.add("</main>")
    return page.html()

