"""The output folder of a run: one sub-folder per item (a face), complete or absent, never half.

A task that writes one folder per item uses :class:`OutputFolder` so that long batches survive
kills, concurrent runs and reruns with other settings:

- **staging**: an item is written into a hidden ``.<name>.<pid>.tmp-<random>`` folder and renamed
  into place when complete, so a killed run leaves no half-written item (the leftovers of dead
  processes are removed by :meth:`OutputFolder.clean` at the next start);
- **claims**: ``.claims/<name>`` holds the process id working on an item; a second run on the same
  folder skips items a live process holds and takes over those of dead processes;
- **provenance**: every item records the recipe that made it (its own resolved recipe and the
  recipe's hash in the completion marker); a rerun keeps an item only when the hash matches.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import yaml

from .io import atomic_write, file_mode, folder_mode, process_alive, remove_stale_temporaries

__all__ = ["OutputFolder", "COMPLETE_MARKER", "RESOLVED_NAME", "recipe_hash", "NOT_HASHED"]

#: Written last into an item folder: its summary row and the recipe hash that made it.
COMPLETE_MARKER = ".complete.json"
#: The resolved recipe, in the output folder and in every item folder.
RESOLVED_NAME = "recipe.resolved.yaml"
#: Top-level recipe keys and task parameters that do not change what an item contains.
NOT_HASHED = ("output", "device", "dataset", "versions", "variants", "task.resume", "task.batch_size")


def recipe_hash(resolved: dict) -> str:
    """A short hash of what in a resolved recipe determines an item's content (not where the
    inputs and outputs are, the device, or how many items run at once)."""
    tree = json.loads(json.dumps(resolved, default=str))
    for key in NOT_HASHED:
        node, *rest = key.split(".")
        if not rest:
            tree.pop(node, None)
        elif isinstance(tree.get(node), dict):
            tree[node].pop(rest[0], None)
    return hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:16]


class OutputFolder:
    """Item folders under ``root`` with staging, claims and provenance.

    Args:
        root: the run's output folder (exists).
        resolved: the run's resolved recipe (plain data), written into every item.
    """

    def __init__(self, root: Path, resolved: dict) -> None:
        self.root = Path(root)
        self.resolved = resolved
        self.hash = recipe_hash(resolved)
        self._claims = self.root / ".claims"

    def clean(self) -> list[Path]:
        """Remove what dead processes left: temporary files and staged folders, and claims."""
        removed = remove_stale_temporaries(self.root)
        if self._claims.is_dir():
            for claim in self._claims.iterdir():
                if not process_alive(self._claim_pid(claim)):
                    with contextlib.suppress(FileNotFoundError):
                        claim.unlink()
                    removed.append(claim)
        return removed

    def close(self) -> None:
        """At the end of a run (finished or interrupted): give back every claim this process still
        holds, then remove the claims folder when no other run's claim is left in it."""
        if self._claims.is_dir():
            for claim in self._claims.iterdir():
                self.release(claim.name)
        with contextlib.suppress(OSError):
            self._claims.rmdir()

    def marker(self, name: str) -> dict[str, Any] | None:
        """The completion marker of item ``name``, or None when it is not complete."""
        path = self.root / name / COMPLETE_MARKER
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def is_current(self, name: str) -> bool:
        """Whether item ``name`` is complete and was made by this recipe."""
        marker = self.marker(name)
        return marker is not None and marker.get("recipe_hash") == self.hash

    def claim(self, name: str) -> bool:
        """Take item ``name`` for this process; False when a live process holds it."""
        self._claims.mkdir(parents=True, exist_ok=True)
        path = self._claims / name
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, file_mode())
            except FileExistsError:
                if process_alive(self._claim_pid(path)):
                    return False
                with contextlib.suppress(FileNotFoundError):  # a dead process's claim: take it over
                    path.unlink()
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return True
        return False

    def release(self, name: str) -> None:
        """Give item ``name`` back (after it is written or has failed)."""
        path = self._claims / name
        if self._claim_pid(path) == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @staticmethod
    def _claim_pid(path: Path) -> int:
        try:
            return int(path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[Path]:
        """A fresh folder to write item ``name`` into; on success it replaces ``root/name``
        (with this run's resolved recipe added), on failure it is deleted.

        The caller writes the completion marker last, with :meth:`write_marker`.
        """
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.{os.getpid()}.tmp-", dir=self.root))
        try:
            with atomic_write(staging / RESOLVED_NAME) as handle:
                handle.write(f"# The recipe that made this folder (hash {self.hash}).\n")
                yaml.safe_dump(self.resolved, handle, sort_keys=False, default_flow_style=None)
            yield staging
            os.chmod(staging, folder_mode())
            self._replace(staging, self.root / name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def write_marker(self, folder: Path, row: dict[str, Any]) -> None:
        """Write the completion marker (``row`` plus this recipe's hash) into a staged folder."""
        with atomic_write(folder / COMPLETE_MARKER) as handle:
            json.dump({**row, "recipe_hash": self.hash}, handle, indent=2)

    def _replace(self, staging: Path, final: Path) -> None:
        if final.is_symlink() or final.is_file():
            raise FileExistsError(f"{final} exists and is not a folder; move it away so the result can be written there")
        if not final.exists():
            os.rename(staging, final)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.tmp-old-", dir=self.root))
        os.rename(final, old / final.name)
        os.rename(staging, final)
        shutil.rmtree(old, ignore_errors=True)
