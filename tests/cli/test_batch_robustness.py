"""A long batch survives bad files, a full disk, a blocked folder, divergence and a kill.

Every run uses the CLI in a subprocess with a tiny schedule (64 px crops, 20 landmark and a few
other steps, JSON exporters), as a user's overnight batch would run, just shorter.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from facerecon.testing import astronaut

REPO = Path(__file__).resolve().parents[2]
TINY = (
    "task.image_size=64", "task.render_max_side=128", "model.texture_size=32", "stages.landmarks.steps=20",
    "stages.light.steps=1", "stages.photometric.steps=2", "stages.textures.steps=1",
    "task.suspect_landmark_error=1.0",
    "exporters={params: {type: params}, landmarks: {type: landmarks}}",
)


def run_cli(*args: str, output: Path, sets: tuple[str, ...] = TINY, wait: bool = True):
    """``facerecon run recipes/quickstart.yaml ARGS`` with the tiny schedule (and the test plugin)."""
    env = {**os.environ, "FACERECON_DISABLE_PLUGIN_AUTOLOAD": "1", "COLUMNS": "250",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "facerecon", "--plugin", "robustness_plugin", "run", "recipes/quickstart.yaml",
               *args, "--output", str(output), "--device", "cpu", *[x for s in sets for x in ("--set", s)]]
    if not wait:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def write(path: Path, image: np.ndarray) -> None:
    assert cv2.imwrite(str(path), image)


def failures(output: Path) -> dict[str, str]:
    with open(output / "failures.csv", newline="") as handle:
        return {row["item"]: row["reason"] for row in csv.DictReader(handle)}


def leftovers(root: Path) -> list[Path]:
    """Temporary files and folders, or claims, anywhere under ``root``."""
    return [p for p in root.rglob("*") if ".tmp-" in p.name or p.name == ".claims"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Good photos (one 16-bit with a non-ASCII name) next to every kind of bad input."""
    folder = tmp_path_factory.mktemp("photos")
    bgr = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)
    write(folder / "astronaut.png", bgr)
    write(folder / "ästronaut-16bit.png", bgr.astype(np.uint16) * 257)
    write(folder / "blocked.png", bgr[:, ::-1])
    write(folder / "full.png", cv2.resize(bgr, (400, 400)))
    jpeg = cv2.imencode(".jpg", bgr)[1].tobytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not an image\n")
    (folder / "more").mkdir()
    write(folder / "more" / "inside.png", bgr)
    return folder


@pytest.fixture(scope="module")
def batch(photos, tmp_path_factory):
    """One run over the folder; the face folder 'blocked' is taken by a file, and the disk is
    'full' (an OS error) when 'full' is exported."""
    output = tmp_path_factory.mktemp("out")
    (output / "blocked").write_text("a file where the face folder should go\n")
    sets = (*TINY[:-1], "exporters={params: {type: params}, landmarks: {type: landmarks}, "
                         "disk: {type: fail-for, names: [full]}}")
    return run_cli("--input", str(photos), output=output, sets=sets), output


def test_good_photos_get_results_and_bad_inputs_get_reasons(batch):
    result, output = batch
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert "Traceback" not in text and "internal error" not in text
    for name in ("astronaut", "ästronaut-16bit"):
        assert (output / name / "params.json").is_file() and (output / name / ".complete.json").is_file(), text
    reasons = failures(output)
    assert set(reasons) == {"truncated", "empty", "notes", "more/", "blocked", "full"}, reasons
    assert "truncated.jpg" in reasons["truncated"] and "empty.jpg" in reasons["empty"]
    assert "recursive" in reasons["more/"]
    assert "not a folder" in reasons["blocked"]
    assert "No space left on device" in reasons["full"]
    assert (output / "blocked").read_text().startswith("a file")
    assert not (output / "full").exists()
    assert leftovers(output) == []
    summary = json.loads((output / "summary.json").read_text())
    assert summary["counts"] == {"ok": 2, "failed": 6}


def test_a_diverging_fit_fails_its_faces_and_writes_no_nan(photos, tmp_path):
    """A learning rate of 10²⁰ sends every head away (the objective becomes infinite; at 10⁶-10¹²
    it stays finite and the fit is written as suspect): each face is recorded as failed with the
    reason, the run goes through the whole folder, and nothing is written for them."""
    result = run_cli("--input", str(photos / "astronaut.png"), output=tmp_path,
                     sets=(*TINY, "stages.landmarks.lr=1e20"))
    assert result.returncode == 1, result.stdout + result.stderr
    reason = failures(tmp_path)["astronaut"]
    assert reason.startswith("fit failed: stage 'landmarks'"), reason
    assert not (tmp_path / "astronaut").exists()
    for path in tmp_path.rglob("*.json"):
        assert "NaN" not in path.read_text() and "null" not in path.read_text().split('"items"')[0]


def test_a_killed_batch_resumes_without_redoing_finished_faces(photos, tmp_path):
    """SIGKILL during the second face; the rerun skips the first, redoes the rest and leaves no
    temporary file or claim behind."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.png").write_bytes((photos / "astronaut.png").read_bytes())
    output = tmp_path / "out"
    process = run_cli("--input", str(folder), output=output, wait=False)
    deadline = time.monotonic() + 300
    while not (output / "a" / ".complete.json").exists():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished_before = {p.name for p in output.iterdir() if (p / ".complete.json").exists()}
    assert "a" in finished_before and finished_before != {"a", "b", "c"}
    stamp = (output / "a" / ".complete.json").stat().st_mtime_ns
    result = run_cli("--input", str(folder), output=output)
    assert result.returncode == 0, result.stdout + result.stderr
    items = {i["item"]: i["status"] for i in json.loads((output / "summary.json").read_text())["items"]}
    assert items["a"] == "resumed"
    assert {items[n] for n in ("b", "c") if n not in finished_before} == {"ok"}
    assert (output / "a" / ".complete.json").stat().st_mtime_ns == stamp
    assert all((output / n / "params.json").is_file() for n in "abc")
    assert leftovers(output) == []


def test_sigterm_is_a_clean_stop(photos, tmp_path):
    """SIGTERM: a message, exit 143, no traceback, no temporary files."""
    process = run_cli("--input", str(photos / "astronaut.png"), output=tmp_path, wait=False)
    deadline = time.monotonic() + 600  # a loaded machine can take minutes to import and load models
    while not (tmp_path / "recipe.resolved.yaml").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    text = process.communicate(timeout=600)[0]
    assert process.returncode in (143, 0), text
    if process.returncode == 143:
        assert "interrupted" in text and "Traceback" not in text
    assert leftovers(tmp_path) == []
