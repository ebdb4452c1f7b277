"""Importing Mitsuba 3 with a usable Dr.Jit backend, or saying clearly what is missing.

Mitsuba's CPU variant (``llvm_ad_rgb``) JIT-compiles through a *shared* libLLVM that Dr.Jit
loads at run time from ``$DRJIT_LIBLLVM_PATH`` (or ``libLLVM.so`` on the library path). Dr.Jit
1.5 needs LLVM ≥ 16: Debian's LLVM 14/15 libraries load but crash while compiling (DESIGN §6).
Debian/Ubuntu ship only versioned names (``libLLVM-19.so``), so unless the variable is set this
module looks for the newest suitable library in the usual folders and sets it before Dr.Jit
initialises its LLVM backend. CUDA scenes use ``cuda_ad_rgb`` and need no libLLVM.
"""
from __future__ import annotations

import glob
import os
import re
import threading
from types import SimpleNamespace

from facerecon.errors import FaceReconError

__all__ = ["MIN_LLVM", "find_libllvm", "load_mitsuba"]

#: Oldest LLVM major version Dr.Jit 1.5 works with.
MIN_LLVM = 16

_SEARCH = (
    "/usr/lib/llvm-*/lib/libLLVM*.so*",
    "/usr/lib/x86_64-linux-gnu/libLLVM*.so*",
    "/usr/lib/aarch64-linux-gnu/libLLVM*.so*",
    "/usr/lib64/libLLVM*.so*",
    "/usr/local/lib/libLLVM*.so*",
    "/usr/local/opt/llvm/lib/libLLVM.dylib",
    "/opt/homebrew/opt/llvm/lib/libLLVM.dylib",
)
_INSTALL_HINT = (
    "Install a shared LLVM >= {min} (Debian/Ubuntu: `apt-get install libllvm19`; macOS: `brew install llvm`) "
    "or point DRJIT_LIBLLVM_PATH at its libLLVM shared library, or render on a CUDA device."
)
_lock = threading.Lock()


def _major(path: str) -> int:
    """LLVM major version read from a library file name (0 when it has none)."""
    found = re.search(r"libLLVM[-.]?(?:so\.)?(\d+)", os.path.basename(path))
    if found is None:
        found = re.search(r"llvm-(\d+)", path)
    return int(found.group(1)) if found else 0


def find_libllvm() -> str | None:
    """Path of the newest shared libLLVM ≥ :data:`MIN_LLVM` in the usual folders, or None."""
    candidates = sorted(
        {os.path.realpath(p) for pattern in _SEARCH for p in glob.glob(pattern) if os.path.isfile(p)},
        key=_major, reverse=True,
    )
    return next((p for p in candidates if _major(p) >= MIN_LLVM), None)


def load_mitsuba(device_type: str) -> SimpleNamespace:
    """Import Mitsuba and select the variant for a torch device type (``cpu`` or ``cuda``).

    Returns:
        namespace with ``mi`` (the mitsuba module, variant set), ``dr`` (drjit) and ``variant``.
    Raises:
        FaceReconError: the backend for that device cannot run here (message says what to install).
    """
    variant = "cuda_ad_rgb" if device_type == "cuda" else "llvm_ad_rgb"
    with _lock:
        if variant == "llvm_ad_rgb" and not os.environ.get("DRJIT_LIBLLVM_PATH"):
            found = find_libllvm()
            if found is not None:
                os.environ["DRJIT_LIBLLVM_PATH"] = found
        try:
            import drjit as dr
            import mitsuba as mi
        except ImportError as exc:  # pragma: no cover - both are dependencies of the package
            raise FaceReconError(f"the mitsuba renderer needs the `mitsuba` and `drjit` packages: {exc}") from exc
        if variant == "llvm_ad_rgb":
            _check_llvm(dr)
        elif not dr.has_backend(dr.JitBackend.CUDA):
            raise FaceReconError("the mitsuba renderer cannot use CUDA here: Dr.Jit found no CUDA driver.")
        try:
            if mi.variant() != variant:
                mi.set_variant(variant)
        except (ImportError, AttributeError, RuntimeError) as exc:
            raise FaceReconError(f"mitsuba variant {variant} is unavailable: {exc}") from exc
    return SimpleNamespace(mi=mi, dr=dr, variant=variant)


def _check_llvm(dr) -> None:
    """Raise a FaceReconError unless Dr.Jit's LLVM backend is up with a recent enough LLVM."""
    path = os.environ.get("DRJIT_LIBLLVM_PATH")
    where = f"DRJIT_LIBLLVM_PATH={path}" if path else "no DRJIT_LIBLLVM_PATH and no libLLVM >= 16 found"
    found = find_libllvm() if path else None
    if found is not None and os.path.realpath(path) != found:
        where += f"; {found} would work: point DRJIT_LIBLLVM_PATH there or unset it"
    if not dr.has_backend(dr.JitBackend.LLVM):
        raise FaceReconError(
            f"the mitsuba renderer needs a shared libLLVM for its CPU backend, but Dr.Jit could not load one "
            f"({where}). " + _INSTALL_HINT.format(min=MIN_LLVM)
        )
    version = tuple(dr.detail.llvm_version())
    if version[0] < MIN_LLVM:
        raise FaceReconError(
            f"the mitsuba renderer needs LLVM >= {MIN_LLVM} for its CPU backend, but Dr.Jit loaded LLVM "
            f"{'.'.join(map(str, version))} ({where}); older LLVM crashes Dr.Jit 1.5. "
            + _INSTALL_HINT.format(min=MIN_LLVM)
        )
