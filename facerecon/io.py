"""Atomic file output: a crash never leaves a half-written file behind.

Temporary files are hidden siblings of their target named ``.<stem>.<pid>.tmp-<random><suffix>``:
the writer's process id lets :func:`remove_stale_temporaries` delete what a killed process left
without touching the files of a process that is still writing. Finished files get the usual
permissions (``0666`` minus the umask), not the private ``0600`` of a temporary file.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_write", "atomic_path", "remove_stale_temporaries", "process_alive", "file_mode", "folder_mode"]

_TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp-")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """``0o666`` minus the process umask: the mode ``open()`` would give a new file."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """``0o777`` minus the process umask: the mode ``mkdir()`` would give a new folder."""
    return 0o777 & ~_umask()


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (ours counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    Use for writers that want a file name (``cv2.imwrite``, ``trimesh.export``). The temporary
    name keeps the extension so format detection works.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}.tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file for writing (``"w"`` or ``"wb"``) that replaces ``path`` on success."""
    with atomic_path(path) as tmp:
        with open(tmp, mode) as handle:
            yield handle


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files (and folders) in ``folder`` whose writing process is gone.

    Returns:
        The paths removed.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match and not process_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
    return removed
