"""Build redner (the path tracer NextFace used) from a source checkout and install it into this venv.

Usage (``make redner REDNER_SRC=path/to/redner`` runs exactly this with ``.venv/bin/python``)::

    .venv/bin/python scripts/build_redner.py --source path/to/redner [--xatlas DIR]
        [--build-dir DIR] [--jobs N] [--cuda auto|on|off] [--optix DIR]

redner has no package for Python >= 3.9 and its ``setup.py`` copies prebuilt libraries from a
submodule, so this script does what it would, against system libraries, for the Python that runs
it (``sys.executable``):

1. checks the build tools and libraries (CMake, a C++ compiler, make, Embree 3, Thrust, pybind11
   recent enough for this Python, the Python headers) and, as root, installs the missing ones with
   apt-get (Debian/Ubuntu names: cmake g++ make libembree-dev libthrust-dev pybind11-dev);
2. stages redner's ``CMakeLists.txt``, ``cmake/`` and ``src/`` in the build folder next to the two
   xatlas files redner compiles (``xatlas.h``, ``xatlas.cpp``) and a stand-in for its pybind11
   submodule that uses the system's pybind11, so neither submodule is needed and the checkout is
   never written to;
3. configures with ``-DPython_EXECUTABLE`` and ``-DPYTHON_INCLUDE_PATH`` (which redner's own
   ``setup.py`` normally passes), for the CPU, or for CUDA where a CUDA toolkit and OptiX Prime
   (OptiX <= 6.5, which redner's GPU path needs) are found, and builds incrementally;
4. packs ``pyredner`` and the compiled ``redner`` module into a wheel and pip-installs it, unless
   the same files are installed already. Running it again rebuilds and installs nothing new.

Every missing piece stops the script with one message saying what to install or where to put it.
Only the standard library is used, so it runs before anything else is installed.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INCLUDE_DIRS = (Path("/usr/include"), Path("/usr/local/include"))
XATLAS_FILES = ("xatlas.h", "xatlas.cpp")
#: Oldest pybind11 (major, minor) that supports each Python (major, minor).
PYBIND11_FOR_PYTHON = {(3, 0): (2, 6), (3, 10): (2, 8), (3, 11): (2, 10), (3, 12): (2, 11), (3, 13): (2, 13),
                       (3, 14): (3, 0)}
APT_HINT = "apt-get install cmake g++ make libembree-dev libthrust-dev pybind11-dev"


class BuildError(Exception):
    """Something the user has to provide or fix; the message says what."""


def say(message: str) -> None:
    """One progress line."""
    print(f"[redner] {message}", flush=True)


# --- 1. requirements ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Requirement:
    """One build requirement: what it is, the Debian package providing it, and whether it is here."""

    what: str
    package: str | None
    found: bool
    hint: str = ""


def _version_of_header(path: Path, major: str, minor: str) -> tuple[int, int] | None:
    """(major, minor) from ``#define MAJOR n`` / ``#define MINOR n`` lines of a header."""
    text = path.read_text(errors="replace")
    found = [re.search(rf"#\s*define\s+{name}\s+(\d+)", text) for name in (major, minor)]
    return (int(found[0].group(1)), int(found[1].group(1))) if all(found) else None


def pybind11_needed() -> tuple[int, int]:
    """The oldest pybind11 that supports the running Python."""
    return max(need for python, need in PYBIND11_FOR_PYTHON.items() if python <= sys.version_info[:2])


def find_pybind11() -> tuple[Path | None, str]:
    """(the include folder holding a recent enough ``pybind11/``, "") or (None, what was found instead).

    Looks in this venv's ``pybind11`` package first (``pip install pybind11``), then the system's.
    """
    candidates = []
    spec = importlib.util.find_spec("pybind11")
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(next(iter(spec.submodule_search_locations))) / "include")
    candidates += INCLUDE_DIRS
    needed, seen = pybind11_needed(), []
    for folder in candidates:
        header = folder / "pybind11" / "detail" / "common.h"
        if header.is_file():
            version = _version_of_header(header, "PYBIND11_VERSION_MAJOR", "PYBIND11_VERSION_MINOR")
            if version is not None and version >= needed:
                return folder, ""
            seen.append(f"{'.'.join(map(str, version or ('?',)))} in {folder}")
    return None, "; found " + ", ".join(seen) if seen else ""


def find_header(relative: str) -> Path | None:
    """The system include folder holding ``relative``, or None."""
    return next((folder for folder in INCLUDE_DIRS if (folder / relative).is_file()), None)


def python_include() -> Path:
    """The running interpreter's C header folder (what ``-DPYTHON_INCLUDE_PATH`` gets)."""
    return Path(sysconfig.get_paths()["include"])


def python_library() -> Path | None:
    """The running interpreter's libpython (shared, else static), which CMake's FindPython insists on."""
    config = sysconfig.get_config_var
    candidates = [(config("LIBDIR"), config("LDLIBRARY")), (config("LIBPL"), config("LIBRARY"))]
    return next((Path(folder) / name for folder, name in candidates
                 if folder and name and (Path(folder) / name).is_file()), None)


def requirements(cuda: bool) -> list[Requirement]:
    """Everything the build needs, each marked found or not."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    include = python_include()
    pybind11, pybind11_seen = find_pybind11()
    needed = ".".join(map(str, pybind11_needed()))
    system_python = str(include).startswith("/usr/include")
    reqs = [
        Requirement("CMake >= 3.13", "cmake", shutil.which("cmake") is not None),
        Requirement("a C++ compiler (g++)", "g++", bool(shutil.which("c++") or shutil.which("g++"))),
        Requirement("make", "make", shutil.which("make") is not None),
        Requirement("Embree 3 (embree3/rtcore.h)", "libembree-dev",
                    find_header("embree3/rtcore.h") is not None),
        Requirement(f"pybind11 >= {needed} for Python {version}", "pybind11-dev", pybind11 is not None,
                    f"or `{sys.executable} -m pip install 'pybind11>={needed}'`{pybind11_seen}"),
        Requirement(f"the headers of Python {version} (Python.h in {include})",
                    f"libpython{version}-dev" if system_python else None, (include / "Python.h").is_file(),
                    "" if system_python else f"this interpreter ({sys.executable}) was installed without them; "
                    "reinstall it with its development headers"),
    ]
    if not cuda:
        reqs.append(Requirement("Thrust headers (thrust/version.h)", "libthrust-dev",
                                find_header("thrust/version.h") is not None))
    return reqs


def apt_install(packages: list[str]) -> None:
    """Install Debian packages (root only); refresh the package lists once if the first try fails."""
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    say("installing " + " ".join(packages) + " with apt-get")
    if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL)


def ensure_requirements(cuda: bool) -> None:
    """Install what is missing when root (apt-get); raise BuildError listing what is still missing."""
    missing = [r for r in requirements(cuda) if not r.found]
    packages = [r.package for r in missing if r.package]
    if packages and os.geteuid() == 0 and shutil.which("apt-get"):
        apt_install(packages)
        missing = [r for r in requirements(cuda) if not r.found]
    if missing:
        lines = [f"  - {r.what}: " + " ".join(filter(None, (f"Debian package {r.package}" if r.package else "",
                                                           r.hint))) for r in missing]
        root = "" if os.geteuid() == 0 else f" Run as root (or `sudo {APT_HINT}`) to have them installed."
        raise BuildError("redner cannot be built yet; missing:\n" + "\n".join(lines) + "\n" + root.strip())


# --- 2. sources ---------------------------------------------------------------------------------

def check_source(given: str) -> Path:
    """The absolute path of ``given``; raise BuildError unless it is a checkout of redner's repository."""
    clone = "git clone https://github.com/BachiLi/redner (its submodules are not needed)"
    if not given.strip():
        raise BuildError(f"Say where redner's source is: make redner REDNER_SRC=path/to/redner, after {clone}.")
    source = Path(given).expanduser().resolve()
    expected = ("CMakeLists.txt", "src/redner.cpp", "pyredner/__init__.py", "setup.py")
    absent = [name for name in expected if not (source / name).is_file()]
    if absent:
        raise BuildError(f"{source} is not a checkout of redner's source: it lacks {', '.join(absent)}. "
                         f"Get one with {clone} and pass its folder as REDNER_SRC.")
    return source


def pinned_xatlas_commit(source: Path) -> str:
    """The xatlas commit redner's submodule pins, or "" when ``source`` is not a git checkout."""
    result = subprocess.run(["git", "-C", str(source), "ls-tree", "HEAD", "xatlas"],
                            capture_output=True, text=True)
    fields = result.stdout.split()
    return fields[2] if result.returncode == 0 and len(fields) >= 3 else ""


def find_xatlas(source: Path, xatlas: Path | None) -> Path:
    """The folder holding xatlas.h and xatlas.cpp: ``xatlas`` if given, else redner's xatlas submodule."""
    folder = xatlas if xatlas is not None else source / "xatlas"
    absent = [name for name in XATLAS_FILES if not (folder / name).is_file()]
    if absent:
        commit = pinned_xatlas_commit(source)
        at = f" at commit {commit}, the one redner pins" if commit else ""
        raise BuildError(
            f"redner compiles two files of xatlas (github.com/jpcy/xatlas{at}): xatlas.h and xatlas.cpp, "
            f"but {folder} lacks {' and '.join(absent)}. Either run `git submodule update --init xatlas` "
            f"in {source}, or copy just those two files from xatlas's top folder into {source / 'xatlas'} "
            "(or into any folder, passed as XATLAS_SRC=folder); nothing else of xatlas is needed."
        )
    return folder


def sync_file(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` unless identical, keeping its time stamp (so builds stay incremental)."""
    if dst.is_file() and dst.read_bytes() == src.read_bytes():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def sync_tree(src: Path, dst: Path) -> None:
    """Mirror the files of ``src`` into ``dst`` (see :func:`sync_file`)."""
    for path in sorted(src.rglob("*")):
        if path.is_file():
            sync_file(path, dst / path.relative_to(src))


PYBIND11_STANDIN = """\
# Stand-in for redner's pybind11 submodule (written by facerecon's scripts/build_redner.py):
# redner only needs pybind11's headers, which include/pybind11 links to.
"""


def stage(source: Path, xatlas: Path, pybind11_include: Path, staging: Path) -> None:
    """Lay out what redner's CMakeLists.txt reads: its own files, xatlas/ and a pybind11/ stand-in."""
    sync_file(source / "CMakeLists.txt", staging / "CMakeLists.txt")
    for folder in ("cmake", "src"):
        sync_tree(source / folder, staging / folder)
    for name in XATLAS_FILES:
        sync_file(xatlas / name, staging / "xatlas" / name)
    standin = staging / "pybind11"
    (standin / "include").mkdir(parents=True, exist_ok=True)
    (standin / "CMakeLists.txt").write_text(PYBIND11_STANDIN)
    link, target = standin / "include" / "pybind11", pybind11_include / "pybind11"
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


# --- 3. configure and build ---------------------------------------------------------------------

def find_optix(source: Path, optix: Path | None) -> Path | None:
    """An OptiX SDK folder with OptiX Prime (lib64/liboptix_prime.so*), or None."""
    candidates = [optix] if optix is not None else [source / "redner-dependencies" / "optix"]
    return next((c for c in candidates if c is not None and any((c / "lib64").glob("liboptix_prime.so*"))), None)


def choose_cuda(mode: str, source: Path, optix: Path | None) -> Path | None:
    """The OptiX folder for a CUDA build, or None for a CPU build (``mode``: auto, on, off)."""
    if mode == "off":
        return None
    nvcc = shutil.which("nvcc")
    optix_dir = find_optix(source, optix)
    if nvcc and optix_dir:
        return optix_dir
    why = ("no CUDA toolkit (nvcc) is on PATH" if not nvcc else
           "redner's GPU path needs OptiX Prime, from an OptiX SDK <= 6.5 (pass OPTIX_DIR=folder with "
           "lib64/liboptix_prime.so.1)")
    if mode == "on":
        raise BuildError(f"A CUDA build of redner was asked for, but {why}.")
    say(f"building for the CPU: {why}; CUDA scenes are traced on the CPU.")
    return None


def cmake_configure(staging: Path, build: Path, optix: Path | None) -> None:
    """Run CMake's configure step (cheap when nothing changed)."""
    # redner's find_package(Python COMPONENTS Development) only gates the build, and it compiles
    # against PYTHON_INCLUDE_PATH (its setup.py passes it): point both at the running interpreter.
    args = [
        "cmake", "-Wno-dev", "-S", str(staging), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
        f"-DPYTHON_INCLUDE_PATH={python_include()}", f"-DPython_INCLUDE_DIR={python_include()}",
        "-DCMAKE_DISABLE_FIND_PACKAGE_TensorFlow=TRUE",
        "-DREDNER_CUDA=" + ("ON" if optix else "OFF"),
    ]
    if python_library():
        args.append(f"-DPython_LIBRARY={python_library()}")
    if optix:
        args.append(f"-DOptiX_INSTALL_DIR={optix}")
    else:  # FindThrust would prefer a CUDA toolkit's Thrust, which needs nvcc; use the system's
        args.append(f"-DTHRUST_INCLUDE_DIR={find_header('thrust/version.h')}")
    say("configuring: " + " ".join(args[1:]))
    if subprocess.run(args, stdout=subprocess.DEVNULL).returncode != 0:
        raise BuildError(f"CMake could not configure redner (its message is above; folder {build}).")


def cmake_build(build: Path, jobs: int) -> Path:
    """Compile (incrementally) and return the built module."""
    say(f"compiling with {jobs} jobs (the first build takes a while)")
    if subprocess.run(["cmake", "--build", str(build), "--parallel", str(jobs)]).returncode != 0:
        raise BuildError(f"Compiling redner failed; the compiler's message is above (build folder {build}).")
    module = build / "redner.so"
    if not module.is_file():
        raise BuildError(f"The build finished without {module}.")
    return module


# --- 4. package and install ---------------------------------------------------------------------

def redner_version(source: Path) -> str:
    """redner's version from its setup.py, with the checkout's commit as local label when known."""
    found = re.search(r"version\s*=\s*['\"]([^'\"]+)['\"]", (source / "setup.py").read_text())
    version = found.group(1) if found else "0"
    commit = subprocess.run(["git", "-C", str(source), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True)
    return f"{version}+g{commit.stdout.strip()}" if commit.returncode == 0 and commit.stdout.strip() else version


def wheel_files(source: Path, module: Path, optix: Path | None) -> dict[str, bytes]:
    """Path in site-packages -> content: pyredner's sources, the module (and OptiX Prime for CUDA)."""
    files = {f"pyredner/{p.relative_to(source / 'pyredner').as_posix()}": p.read_bytes()
             for p in sorted((source / "pyredner").rglob("*.py"))}
    files["redner" + sysconfig.get_config_var("EXT_SUFFIX")] = module.read_bytes()
    if optix is not None:  # found next to the module through its RPATH $ORIGIN, as redner's setup.py does
        files["liboptix_prime.so.1"] = next((optix / "lib64").glob("liboptix_prime.so*")).read_bytes()
    return files


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(files: dict[str, bytes], version: str, folder: Path) -> Path:
    """A platform wheel of distribution ``redner`` holding ``files``; same inputs, same bytes."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    info = f"redner-{version}.dist-info"
    meta = dict(files)
    meta[f"{info}/METADATA"] = (
        "Metadata-Version: 2.1\nName: redner\n"
        f"Version: {version}\nSummary: redner differentiable path tracer, built from source by facerecon\n"
        "Home-page: https://github.com/BachiLi/redner\nLicense: MIT\n"
        "Requires-Dist: torch\nRequires-Dist: scikit-image\nRequires-Dist: imageio\n").encode()
    meta[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: facerecon build_redner\nRoot-Is-Purelib: false\n"
                             f"Tag: {tag}-{tag}-{platform}\n").encode()
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in meta.items())
    meta[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"redner-{version}-{tag}-{tag}-{platform}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in meta.items():
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = (0o755 if name.endswith(".so") or ".so." in name else 0o644) << 16
            archive.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return wheel


def installed_matches(files: dict[str, bytes], version: str) -> bool:
    """Whether this venv already holds redner ``version`` with exactly these files."""
    site = Path(sysconfig.get_paths()["platlib"])
    if not (site / f"redner-{version}.dist-info").is_dir():
        return False
    return all((site / name).is_file() and (site / name).read_bytes() == data for name, data in files.items())


def pip_install(wheel: Path) -> None:
    """Install ``wheel`` over any redner present, then its dependencies if any is missing."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    if subprocess.run([*pip, "--force-reinstall", "--no-deps", str(wheel)]).returncode != 0:
        raise BuildError(f"pip could not install {wheel} (its message is above).")
    if subprocess.run([*pip, str(wheel)]).returncode != 0:
        raise BuildError("pip could not install pyredner's dependencies (torch, scikit-image, imageio).")


def check_import() -> None:
    """Import pyredner and redner in a fresh interpreter; raise BuildError saying why not."""
    probe = "import pyredner, redner; print(redner.__file__)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd="/")
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BuildError(f"redner was installed but does not import: {last}")
    say(f"pyredner imports; compiled module {result.stdout.strip()}")


# --- main ---------------------------------------------------------------------------------------

def default_build_dir(cuda: bool) -> Path:
    """build/redner-<python tag>-<cpu|cuda> in this checkout (ignored by git, kept by `make clean`)."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return REPO / "build" / f"redner-{tag}-{'cuda' if cuda else 'cpu'}"


def main(argv: list[str] | None = None) -> int:
    """Build and install redner (module docstring); 0 on success, 1 with a message otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="", help="redner checkout (REDNER_SRC)")
    parser.add_argument("--xatlas", type=Path, help="folder with xatlas.h and xatlas.cpp (default: SOURCE/xatlas)")
    parser.add_argument("--build-dir", type=Path, help="CMake build folder (default: build/redner-<tag>-<cpu|cuda>)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel compile jobs")
    parser.add_argument("--cuda", choices=("auto", "on", "off"), default="auto",
                        help="CUDA build: auto = when nvcc and OptiX Prime are found")
    parser.add_argument("--optix", type=Path, help="OptiX SDK (<= 6.5) folder with lib64/liboptix_prime.so.1")
    args = parser.parse_args(argv)
    try:
        source = check_source(args.source)
        xatlas = find_xatlas(source, args.xatlas.expanduser().resolve() if args.xatlas else None)
        optix = choose_cuda(args.cuda, source, args.optix)
        ensure_requirements(cuda=optix is not None)
        build = (args.build_dir.expanduser().resolve() if args.build_dir else default_build_dir(optix is not None))
        pybind11_include, _ = find_pybind11()
        stage(source, xatlas, pybind11_include, build / "source")
        cmake_configure(build / "source", build / "cmake", optix)
        module = cmake_build(build / "cmake", max(1, args.jobs))
        version = redner_version(source)
        files = wheel_files(source, module, optix)
        if installed_matches(files, version):
            say(f"redner {version} is already installed in {sys.prefix}, unchanged")
        else:
            wheel = write_wheel(files, version, build / "dist")
            say(f"installing {wheel.name} into {sys.prefix}")
            pip_install(wheel)
        check_import()
    except BuildError as exc:
        print(f"[redner] error: {exc}", file=sys.stderr)
        return 1
    say("done: `facerecon describe renderer redner` shows it available; recipes can use renderer.type=redner")
    return 0


if __name__ == "__main__":
    sys.exit(main())
