"""Reports a person looks at: an HTML page per run (and per comparison) and a contact sheet.

Everything is made from the files a run left in its output folder (:mod:`.folder`), so
``facerecon report OUTPUT`` rebuilds a report at any time and the runner writes one at the end of
every run:

- ``report.html``: a contact sheet of every face (input | overlay | render, its status and
  reason), then per face an interactive 3D view of its mesh, its numbers (metrics, losses,
  timings), its pictures (render strip, texture maps, environment map, loss curves) and the
  recipe that made it; one self-contained file (:mod:`.html`);
- ``contact_sheet.png``: the contact sheet as a picture, tiles framed in the status colour
  (:mod:`.contact`).
"""
from __future__ import annotations

from pathlib import Path

from ..io import atomic_write
from .contact import write_contact_sheet
from .folder import FaceRecord, RunRecord, read_run

__all__ = ["REPORT_NAME", "CONTACT_SHEET_NAME", "write_report", "read_run", "FaceRecord", "RunRecord"]

#: The report page of a run, in its output folder.
REPORT_NAME = "report.html"
#: The contact sheet picture, beside it.
CONTACT_SHEET_NAME = "contact_sheet.png"


def write_report(folder: str | Path) -> list[Path]:
    """Write ``report.html`` and ``contact_sheet.png`` (when there are items) into the output
    folder ``folder`` from what it holds; return the paths written."""
    from .html import run_page

    folder = Path(folder)
    record = read_run(folder)
    written = []
    sheet = write_contact_sheet(record.faces, folder / CONTACT_SHEET_NAME)
    if sheet is not None:
        written.append(sheet)
    with atomic_write(folder / REPORT_NAME) as handle:
        handle.write(run_page(record, sheet))
    written.insert(0, folder / REPORT_NAME)
    return written
