"""Write the measured results into the README's tables (never typed by hand).

Usage::

    .venv/bin/facerecon run recipes/eval-synthetic.yaml          # writes outputs/eval-synthetic/
    make bench                                                   # writes benchmarks/results/*.json
    .venv/bin/python scripts/readme_results.py [outputs/eval-synthetic/accuracy.json]

- ``<!-- accuracy:begin -->`` ... ``<!-- accuracy:end -->``: a table of every variant and baseline
  of the evaluate run (geometry, landmarks, light, PSNR), each geometry median also as a fraction
  of the mean face's, and the machine and date it was measured on;
- ``<!-- network-speed:begin -->`` ... ``<!-- network-speed:end -->``: the network's inference
  and training speed per device and encoder from ``benchmarks/results/network.json``.
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
SPEED_BEGIN, SPEED_END = "<!-- network-speed:begin -->", "<!-- network-speed:end -->"
NETWORK_JSON = REPO / "benchmarks" / "results" / "network.json"
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


def _significant(value) -> str:
    """Three significant figures: CPU milliseconds run to 100, a GPU's per image at batch 32 to 0.05."""
    return "" if value is None or value != value else f"{value:.3g}"


def speed_table(network: dict) -> str:
    """Markdown table of ``network.json``: per device and encoder, ms per image at batch 1 and 32
    (encoder alone, whole inference, their ratio) and training images per second."""
    header = ["device / encoder", "encoder ms/img b1", "inference ms/img b1", "ratio b1", "with maps b1",
              "encoder ms/img b32", "inference ms/img b32", "ratio b32", "with maps b32", "training img/s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in network.items():
        cells = [f"{name} ({row['machine']})" if row.get("machine") else name]
        for batch in ("batch1", "batch32"):
            measured = row.get(batch, {})
            cells += [_significant(measured.get("encoder_ms")), _significant(measured.get("pipeline_ms")),
                      _cell(measured.get("ratio"), 2), _cell(measured.get("maps_ratio"), 2)]
        training = row.get("training", {})
        cells.append(f"{_cell(training.get('train_images_per_s'), 1)} (batch {training.get('batch_size', '?')}, "
                     f"{training.get('precision', '?')})" if training else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fill(text: str, begin: str, end: str, block: str) -> str:
    """``text`` with what lies between ``begin`` and ``end`` replaced by ``block``."""
    if begin not in text or end not in text:
        sys.exit(f"README.md has no {begin} ... {end} block to fill.")
    head, rest = text.split(begin, 1)
    return head + f"{begin}\n{block}\n{end}" + rest.split(end, 1)[1]


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "outputs" / "eval-synthetic" / "accuracy.json")
    readme = REPO / "README.md"
    text = readme.read_text()
    if source.exists():
        accuracy = json.loads(source.read_text())
        stamp = (f"Measured {time.strftime('%Y-%m-%d', time.localtime(source.stat().st_mtime))} on "
                 f"{platform.machine()} Linux, {os.cpu_count()} CPU cores, no GPU; {accuracy['common_faces']} of "
                 f"{accuracy['total_faces']} faces found by every variant; written by `scripts/readme_results.py`.")
        text = fill(text, BEGIN, END, f"{table(accuracy)}\n\n{stamp}")
        print(table(accuracy))
    if NETWORK_JSON.exists():
        network = json.loads(NETWORK_JSON.read_text())
        stamp = (f"`make bench` ({NETWORK_JSON.relative_to(REPO)}, "
                 f"{time.strftime('%Y-%m-%d', time.localtime(NETWORK_JSON.stat().st_mtime))}); "
                 "written by `scripts/readme_results.py`.")
        text = fill(text, SPEED_BEGIN, SPEED_END, f"{speed_table(network)}\n\n{stamp}")
        print(speed_table(network))
    readme.write_text(text)

if __name__ == "__main__":
    main()
