"""Mitsuba 3 for components that use it: importing it with a usable Dr.Jit backend (or saying
clearly what is missing), and the camera in facerecon's conventions.

Mitsuba's CPU variant (``llvm_ad_rgb``) JIT-compiles through a *shared* libLLVM that Dr.Jit
loads at run time from ``$DRJIT_LIBLLVM_PATH`` (or ``libLLVM.so`` on the library path). Dr.Jit
1.5 needs LLVM ≥ 16: Debian's LLVM 14/15 libraries load but crash while compiling.
Debian/Ubuntu ship only versioned names (``libLLVM-19.so``), so unless the variable is set this
module looks for the newest suitable library in the usual folders and sets it before Dr.Jit
initialises its LLVM backend. CUDA scenes use ``cuda_ad_rgb`` and need no libLLVM.

Camera. Mitsuba's ``perspective`` sensor looks along its local +z with +y up, and film x/y grow
towards its local −x/−y. Its ``to_world`` is diag(−1, −1, 1) (:data:`TO_WORLD`) so that film x
points along world +x and film y along world +y: the world frame *is* our camera frame (x right,
y down, +z forward, mm). The horizontal field of view is 2·atan(W / 2f); a principal point
(cx, cy) is Mitsuba's ``principal_point_offset`` ((W/2 − cx)/W, (H/2 − cy)/H), in fractions of
the film. Pixels are box-filtered (each sample lands in its own pixel).
"""
from __future__ import annotations

import glob
import math
import os
import re
import threading
from types import SimpleNamespace

from facerecon.errors import FaceReconError

__all__ = ["MIN_LLVM", "find_libllvm", "load_mitsuba", "TO_WORLD", "sampler_type", "sensor_dict", "pixel_rays"]

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
            raise FaceReconError(f"Mitsuba needs the `mitsuba` and `drjit` packages: {exc}") from exc
        if variant == "llvm_ad_rgb":
            _check_llvm(dr)
        elif not dr.has_backend(dr.JitBackend.CUDA):
            raise FaceReconError("Mitsuba cannot use CUDA here: Dr.Jit found no CUDA driver.")
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
            f"Mitsuba needs a shared libLLVM for its CPU backend, but Dr.Jit could not load one "
            f"({where}). " + _INSTALL_HINT.format(min=MIN_LLVM)
        )
    version = tuple(dr.detail.llvm_version())
    if version[0] < MIN_LLVM:
        raise FaceReconError(
            f"Mitsuba needs LLVM >= {MIN_LLVM} for its CPU backend, but Dr.Jit loaded LLVM "
            f"{'.'.join(map(str, version))} ({where}); older LLVM crashes Dr.Jit 1.5. "
            + _INSTALL_HINT.format(min=MIN_LLVM)
        )


#: Mitsuba's local frames (sensor, envmap) -> our camera frame.
TO_WORLD = ((-1.0, 0.0, 0.0, 0.0), (0.0, -1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))


def sampler_type(kind: str, spp: int) -> str:
    """Mitsuba sampler drawing exactly ``spp`` samples per pixel for ``kind`` (multijitter / independent).

    ``multijitter`` stratifies on a ⌈spp/s⌉ × s grid, s = ⌊√spp⌋, and rounds other counts up
    (32 -> 35); those use the low-discrepancy ``ldsampler`` when spp is a power of two, else
    ``independent``.
    """
    if kind != "multijitter":
        return kind
    side = math.isqrt(spp)
    if spp % side == 0:
        return "multijitter"
    return "ldsampler" if spp & (spp - 1) == 0 else "independent"


def sensor_dict(mi, width: int, height: int, focal: float, principal: tuple[float, float], spp: int,
                sampler: str = "multijitter", sample_border: bool = False) -> dict:
    """A ``perspective`` sensor for an OpenCV pinhole (focal in pixels, principal point in pixels).

    ``sample_border`` also traces a margin around the film, which projective integrators need to
    account for shapes entering or leaving the image.
    """
    cx, cy = principal
    return {
        "type": "perspective",
        "fov": math.degrees(2.0 * math.atan(0.5 * width / focal)),
        "fov_axis": "x",
        "principal_point_offset_x": (0.5 * width - cx) / width,
        "principal_point_offset_y": (0.5 * height - cy) / height,
        "near_clip": 1.0,
        "far_clip": 1e6,
        "to_world": mi.ScalarTransform4f(TO_WORLD),
        "film": {
            "type": "hdrfilm", "width": width, "height": height, "pixel_format": "rgba",
            "rfilter": {"type": "box"}, "sample_border": sample_border,
        },
        "sampler": {"type": sampler_type(sampler, spp), "sample_count": spp},
    }


def pixel_rays(mi, dr, width: int, height: int, focal: float, principal: tuple[float, float]):
    """One ray per pixel centre (row-major), from the camera centre, unit directions."""
    index = dr.arange(mi.UInt32, width * height)
    x = mi.Float(index % width) + 0.5
    y = mi.Float(index // width) + 0.5
    direction = dr.normalize(mi.Vector3f((x - principal[0]) / focal, (y - principal[1]) / focal, 1.0))
    return mi.Ray3f(mi.Point3f(0.0), direction)
