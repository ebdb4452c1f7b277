"""Write the accuracy numbers of an ``evaluate`` run into the README (its "Results" block).

Usage::

    .venv/bin/facerecon run recipes/eval-synthetic.yaml          # writes outputs/eval-synthetic/
    .venv/bin/python scripts/readme_accuracy.py [outputs/eval-synthetic/accuracy.json]

The block between ``<!-- accuracy:begin -->`` and ``<!-- accuracy:end -->`` in README.md is
replaced by a table of every variant and baseline (geometry, landmarks, light, PSNR; speed is `make bench`'s), each
geometry median also as a fraction of the mean face's, and the machine and date it was measured on.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- accuracy:begin -->", "<!-- accuracy:end -->"
COLUMNS = (("v2v_median", "v2v median mm", 2), ("v2v_mean", "v2v mean mm", 2), ("p2s_median", "p2s median mm", 2),
           ("normal_deg", "normals °", 2), ("landmark_nme", "landmark NME", 3), ("light_deg", "light °", 1),
           ("psnr_db", "PSNR dB", 1))


def _cell(value, digits: int) -> str:
    return "" if value is None or value != value else f"{value:.{digits}f}"


def table(accuracy: dict) -> str:
    """Markdown table of ``accuracy.json``'s common summary, with the ratio to the mean face."""
    rows = accuracy["common"]
    mean_face = rows.get("mean-face", {}).get("v2v_median")
    header = ["variant", "faces", *(title for _, title, _ in COLUMNS)]
    if mean_face:
        header.insert(3, "× mean face")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in rows.items():
        cells = [name, str(row.get("faces", ""))] + [_cell(row.get(key), digits) for key, _, digits in COLUMNS]
        if mean_face:
            cells.insert(3, _cell(row["v2v_median"] / mean_face, 2))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "outputs" / "eval-synthetic" / "accuracy.json")
    accuracy = json.loads(source.read_text())
    stamp = (f"Measured {time.strftime('%Y-%m-%d', time.localtime(source.stat().st_mtime))} on "
             f"{platform.machine()} Linux, {os.cpu_count()} CPU cores, no GPU; {accuracy['common_faces']} of "
             f"{accuracy['total_faces']} faces found by every variant; written by `scripts/readme_accuracy.py`.")
    block = f"{BEGIN}\n{table(accuracy)}\n\n{stamp}\n{END}"
    readme = REPO / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"README.md has no {BEGIN} ... {END} block to fill.")
    head, rest = text.split(BEGIN, 1)
    readme.write_text(head + block + rest.split(END, 1)[1])
    print(table(accuracy))


if __name__ == "__main__":
    main()
