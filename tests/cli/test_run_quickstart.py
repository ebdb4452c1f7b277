"""``facerecon run recipes/quickstart.yaml`` on a folder of good and bad inputs, and on two faces.

The CLI runs in a subprocess with a tiny schedule (64 px crop, 20 landmark, 2 photometric and 1
texture step, JSON exporters only): what is checked is the batch behaviour, not the fit quality.
The folder holds the astronaut photo, a photo with two astronauts (the second one smaller), a
blank grey image (no face) and a corrupt file. The run must exit 1, fit the three faces, report
the two bad files as skipped with their reasons, and print no traceback. With
``task.faces=largest`` only the larger astronaut of the pair is fitted.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FACERECON = Path(sys.executable).parent / "facerecon"
TINY = (
    "task.image_size=64",
    "task.render_max_side=128",
    "model.texture_size=64",
    "stages.landmarks.steps=20",
    "stages.light.steps=1",
    "stages.photometric.steps=2",
    "stages.textures.steps=1",
    "task.suspect_landmark_error=1.0",  # 20 landmark steps do not fit well: judge the batch, not the fit
    "exporters={params: {type: params}, landmarks: {type: landmarks}}",
)
#: x range (pixels) of each astronaut in pair.png: the full photo left, a 320 px copy right.
LARGE_X, SMALL_X = (0, 512), (512, 832)


def _write(path: Path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A folder: astronaut.png, pair.png (two astronauts), blank.png and corrupt.jpg."""
    from skimage.data import astronaut

    folder = tmp_path_factory.mktemp("inputs")
    photo = astronaut()
    pair = np.full((512, SMALL_X[1], 3), 255, np.uint8)
    pair[:, : LARGE_X[1]] = photo
    pair[:320, SMALL_X[0]:] = cv2.resize(photo, (320, 320), interpolation=cv2.INTER_AREA)
    _write(folder / "astronaut.png", photo)
    _write(folder / "pair.png", pair)
    _write(folder / "blank.png", np.full((256, 256, 3), 128, np.uint8))
    (folder / "corrupt.jpg").write_bytes(b"this is not a JPEG file\n" * 8)
    return folder


def _run(*args: str, output: Path) -> subprocess.CompletedProcess:
    """``facerecon run recipes/quickstart.yaml ARGS --output OUTPUT`` with the tiny schedule."""
    sets = [item for assignment in TINY for item in ("--set", assignment)]
    env = {**os.environ, "COLUMNS": "250", "FACERECON_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        [str(FACERECON), "run", "recipes/quickstart.yaml", *args, "--output", str(output), "--device", "cpu", *sets],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )


def _detected_x(folder: Path) -> tuple[float, float]:
    """x range of the detected landmarks of one result folder."""
    points = np.asarray(json.loads((folder / "landmarks.json").read_text())["detected"])
    return float(points[:, 0].min()), float(points[:, 0].max())


@pytest.fixture(scope="module")
def folder_run(inputs, tmp_path_factory):
    """The CLI over the whole folder (faces: all)."""
    output = tmp_path_factory.mktemp("out_all")
    return _run("--input", str(inputs), output=output), output


def test_bad_inputs_are_skipped_with_reasons(folder_run):
    """Exit 1 (some inputs failed, the rest is written), no traceback, one 'skipped NAME: reason'
    line per bad file, and the same reasons in failures.csv."""
    result, output = folder_run
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    with open(output / "failures.csv", newline="") as handle:
        failures = {row["item"]: row["reason"] for row in csv.DictReader(handle)}
    assert failures.keys() == {"blank", "corrupt"} and failures["blank"] == "no face detected"
    items = {item["item"]: item["status"] for item in json.loads((output / "summary.json").read_text())["items"]}
    assert items == {"astronaut": "ok", "pair_face0": "ok", "pair_face1": "ok", "blank": "failed", "corrupt": "failed"}
    assert "Traceback" not in text
    assert "skipped blank: no face detected" in result.stdout, result.stdout
    corrupt = [line for line in result.stdout.splitlines() if line.startswith("skipped corrupt: ")]
    assert len(corrupt) == 1 and "corrupt.jpg" in corrupt[0], result.stdout  # the reason names the file
    assert "skipped astronaut" not in result.stdout and "skipped pair" not in result.stdout


def test_every_face_of_the_folder_is_fitted(folder_run):
    """The astronaut and both faces of the pair get result folders; the bad files get none."""
    result, output = folder_run
    folders = sorted(p.name for p in output.iterdir() if p.is_dir())
    assert folders == ["astronaut", "pair_face0", "pair_face1"], result.stdout
    for name in folders:
        assert (output / name / "params.json").is_file() and (output / name / "landmarks.json").is_file()
        assert name in result.stdout
    assert (output / "recipe.resolved.yaml").is_file()
    # The two faces of the pair are the two astronauts, one in each half.
    halves = sorted(_detected_x(output / name) for name in ("pair_face0", "pair_face1"))
    assert LARGE_X[0] <= halves[0][0] and halves[0][1] <= LARGE_X[1]
    assert SMALL_X[0] <= halves[1][0] and halves[1][1] <= SMALL_X[1]


def test_largest_fits_only_the_larger_face(inputs, tmp_path):
    """``task.faces=largest`` on the pair gives one result, named after the image, for the big face."""
    result = _run("--input", str(inputs / "pair.png"), "--set", "task.faces=largest", output=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["pair"]
    x0, x1 = _detected_x(tmp_path / "pair")
    assert LARGE_X[0] <= x0 and x1 <= LARGE_X[1]


def test_a_log_shows_overall_progress_and_full_results(folder_run):
    """In a log (not a terminal): a progress line per photo with photos done, faces written and
    failed and the time left, and one JSON line per face with every column's full name."""
    result, _ = folder_run
    progress = [line for line in result.stderr.splitlines() if line.startswith("progress: ")]
    assert len(progress) == 4, result.stderr
    assert all(line.startswith(f"progress: {i}/4 photos, ") for i, line in enumerate(progress, 1))
    assert "left" in progress[0] and "left" not in progress[-1]
    assert progress[-1].startswith("progress: 4/4 photos, 3 written, 2 failed, ")
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert sorted(row["face"] for row in rows) == ["astronaut", "pair_face0", "pair_face1"]
    assert all({"status", "landmark_error_iod", "seconds_landmarks"} <= row.keys() for row in rows)


def test_the_run_writes_its_report_and_contact_sheet(folder_run):
    """report.html lists every input, failed ones with their reason; contact_sheet.png has a tile
    per input."""
    _, output = folder_run
    page = (output / "report.html").read_text()
    for name in ("astronaut", "pair_face0", "pair_face1", "blank", "corrupt"):
        assert f'data-face="{name}"' in page
    assert "no face detected" in page
    assert (output / "contact_sheet.png").stat().st_size > 0
