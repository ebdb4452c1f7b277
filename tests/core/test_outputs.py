"""The output folder protocol: staged items, claims between processes, provenance, cleanup."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from facerecon.io import atomic_write, remove_stale_temporaries
from facerecon.outputs import COMPLETE_MARKER, RESOLVED_NAME, OutputFolder, recipe_hash

RESOLVED = {"facerecon": 1, "task": {"type": "fit", "batch_size": 1, "resume": True}, "output": "a",
            "device": "cpu", "stages": {"s": {"steps": 3}}}


@pytest.fixture
def sleeper():
    """A live process that is not this one (its pid stands for another run)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_hash_ignores_where_and_how_many_but_not_what():
    same = {**RESOLVED, "output": "elsewhere", "device": "cuda", "task": {**RESOLVED["task"], "batch_size": 32}}
    assert recipe_hash(same) == recipe_hash(RESOLVED)
    other = {**RESOLVED, "stages": {"s": {"steps": 4}}}
    assert recipe_hash(other) != recipe_hash(RESOLVED)


def test_a_staged_item_appears_complete_or_not_at_all(tmp_path):
    outputs = OutputFolder(tmp_path, RESOLVED)
    with pytest.raises(RuntimeError):
        with outputs.stage("face") as folder:
            (folder / "mesh.obj").write_text("v 0 0 0\n")
            raise RuntimeError("killed while writing")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    with outputs.stage("face") as folder:
        (folder / "mesh.obj").write_text("v 0 0 0\n")
        outputs.write_marker(folder, {"face": "face", "status": "ok"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face"]
    assert sorted(p.name for p in (tmp_path / "face").iterdir()) == [COMPLETE_MARKER, "mesh.obj", RESOLVED_NAME]
    assert outputs.is_current("face") and outputs.marker("face")["recipe_hash"] == outputs.hash
    assert not OutputFolder(tmp_path, {**RESOLVED, "seed": 7}).is_current("face")


def test_restaging_replaces_the_old_item(tmp_path):
    outputs = OutputFolder(tmp_path, RESOLVED)
    for content in ("old", "new"):
        with outputs.stage("face") as folder:
            (folder / content).write_text(content)
    assert sorted(p.name for p in (tmp_path / "face").iterdir()) == ["new", RESOLVED_NAME]
    assert [p.name for p in tmp_path.iterdir()] == ["face"]


def test_a_file_in_the_way_fails_the_item_only(tmp_path):
    (tmp_path / "face").write_text("someone's file")
    with pytest.raises(FileExistsError, match="not a folder"):
        with OutputFolder(tmp_path, RESOLVED).stage("face") as folder:
            (folder / "x").write_text("x")
    assert (tmp_path / "face").read_text() == "someone's file"
    assert [p.name for p in tmp_path.iterdir()] == ["face"]


def test_claims_keep_live_runs_apart_and_dead_runs_are_taken_over(tmp_path, sleeper):
    outputs = OutputFolder(tmp_path, RESOLVED)
    (tmp_path / ".claims").mkdir()
    (tmp_path / ".claims" / "busy").write_text(str(sleeper.pid))
    (tmp_path / ".claims" / "orphan").write_text(str(dead_pid()))
    assert not outputs.claim("busy")
    assert outputs.claim("orphan") and outputs.claim("free")
    outputs.release("orphan")
    outputs.release("free")
    assert sorted(p.name for p in (tmp_path / ".claims").iterdir()) == ["busy"]
    outputs.release("busy")  # not ours: kept
    assert (tmp_path / ".claims" / "busy").exists()


def test_closing_gives_back_this_runs_claims_even_when_interrupted(tmp_path, sleeper):
    """An interrupted run closes with claims still held: its own go, another run's stay."""
    outputs = OutputFolder(tmp_path, RESOLVED)
    assert outputs.claim("mine") and outputs.claim("also-mine")
    (tmp_path / ".claims" / "theirs").write_text(str(sleeper.pid))
    outputs.close()
    assert [p.name for p in (tmp_path / ".claims").iterdir()] == ["theirs"]
    (tmp_path / ".claims" / "theirs").unlink()
    assert outputs.claim("mine")
    outputs.close()
    assert not (tmp_path / ".claims").exists()


def test_clean_removes_only_what_dead_processes_left(tmp_path, sleeper):
    dead = dead_pid()
    (tmp_path / f".mesh.{dead}.tmp-abc.obj").write_text("half")
    (tmp_path / f".face.{dead}.tmp-xyz").mkdir()
    (tmp_path / f".mesh.{sleeper.pid}.tmp-def.obj").write_text("being written")
    (tmp_path / ".claims").mkdir()
    (tmp_path / ".claims" / "face").write_text(str(dead))
    (tmp_path / "result.txt").write_text("kept")
    removed = OutputFolder(tmp_path, RESOLVED).clean()
    assert len(removed) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [".claims", f".mesh.{sleeper.pid}.tmp-def.obj", "result.txt"]
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_atomic_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as handle:
            handle.write("x")
        os.umask(0o077)
        with atomic_write(tmp_path / "b.txt") as handle:
            handle.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600
