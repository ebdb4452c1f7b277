"""A cache of compiled morphable models: one uncompressed ``.npz`` per set of inputs.

The key hashes a version constant, the identity of every input file (resolved path, size,
modification time) and the parameters that change the derived arrays, so editing a file or a
parameter builds a new entry, and bumping the version retires every old one.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from facerecon.io import atomic_path

__all__ = ["cache_key", "cached_arrays"]


def cache_key(version: int, files: list[Path], settings: dict[str, Any]) -> str:
    """A short hex digest of the version, the input files' identity and the settings."""
    stamp = []
    for path in files:
        stat = Path(path).stat()
        stamp.append([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns])
    text = json.dumps({"version": version, "files": stamp, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cached_arrays(path: Path, compute: Callable[[], dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], bool]:
    """Load the arrays stored at ``path``, or compute and store them (atomically).

    Args:
        path: the ``.npz`` file for this key.
        compute: builds the arrays when the file is missing or unreadable.
    Returns:
        ``(arrays, hit)``, hit True when the file was read.
    """
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}, True
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            pass  # a truncated or foreign file: rebuild it
    arrays = compute()
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return arrays, False
