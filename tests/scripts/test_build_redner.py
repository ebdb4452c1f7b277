"""scripts/build_redner.py up to the compiler: its messages, the staged sources and the wheel it installs.

The compile itself (minutes) is not run here; `make redner REDNER_SRC=...` followed by
tests/plugins/test_redner.py checks the result.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_redner.py"
_spec = importlib.util.spec_from_file_location("build_redner", SCRIPT)
build_redner = sys.modules.setdefault("build_redner", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(build_redner)  # registered first: its dataclasses look their module up

XATLAS_COMMIT = "a3f3acc86b077043d05f1ace2e7124800115c6b4"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def redner_checkout(tmp_path) -> Path:
    """A git checkout laid out like redner's: the files the script reads, an empty xatlas submodule."""
    source = tmp_path / "redner"
    for name, text in {"CMakeLists.txt": "project(redner)\n", "src/redner.cpp": "// module\n",
                       "src/automatic_uv_map.h": '#include "../xatlas/xatlas.h"\n',
                       "cmake/FindEmbree.cmake": "# find\n", "pyredner/__init__.py": "from .camera import *\n",
                       "pyredner/camera.py": "X = 1\n", "setup.py": "setup(version = '0.4.28')\n"}.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    (source / "xatlas").mkdir()
    git = ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "update-index", "--add", "--cacheinfo", f"160000,{XATLAS_COMMIT},xatlas"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "redner"], check=True)
    return source


def test_missing_or_wrong_source_is_explained(tmp_path):
    empty = run_script("--source", "")
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert "make redner REDNER_SRC=path/to/redner" in empty.stderr and "github.com/BachiLi/redner" in empty.stderr
    wrong = run_script("--source", str(tmp_path))
    assert wrong.returncode == 1
    assert f"{tmp_path} is not a checkout of redner's source: it lacks CMakeLists.txt, src/redner.cpp" in wrong.stderr


def test_missing_xatlas_names_the_two_files_and_the_pinned_commit(redner_checkout, tmp_path):
    result = run_script("--source", str(redner_checkout))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = result.stderr
    assert f"github.com/jpcy/xatlas at commit {XATLAS_COMMIT}" in message
    assert f"{redner_checkout / 'xatlas'} lacks xatlas.h and xatlas.cpp" in message
    assert "XATLAS_SRC=folder" in message
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "xatlas.h").write_text("")
    only_header = run_script("--source", str(redner_checkout), "--xatlas", str(tmp_path / "x"))
    assert f"{tmp_path / 'x'} lacks xatlas.cpp." in only_header.stderr


def test_staging_lays_out_what_cmake_reads_and_keeps_time_stamps(redner_checkout, tmp_path):
    xatlas, pybind11 = tmp_path / "xatlas-files", tmp_path / "include"
    xatlas.mkdir()
    for name in ("xatlas.h", "xatlas.cpp"):
        (xatlas / name).write_text(f"// {name}\n")
    (pybind11 / "pybind11").mkdir(parents=True)
    (pybind11 / "pybind11" / "pybind11.h").write_text("// pybind11\n")
    staging = tmp_path / "build" / "source"
    build_redner.stage(redner_checkout, xatlas, pybind11, staging)
    # redner's header reaches xatlas through ../xatlas from src/: it must land in the staged copy
    header = staging / "src" / "automatic_uv_map.h"
    assert (header.parent / "../xatlas/xatlas.h").resolve().read_text() == "// xatlas.h\n"
    assert (staging / "pybind11" / "include" / "pybind11" / "pybind11.h").read_text() == "// pybind11\n"
    assert (staging / "pybind11" / "CMakeLists.txt").is_file() and (staging / "cmake" / "FindEmbree.cmake").is_file()
    assert not list((redner_checkout / "xatlas").iterdir()), "the checkout is never written to"

    os.utime(header, (1_000_000, 1_000_000))
    os.utime(redner_checkout / "src" / "automatic_uv_map.h", (1_000_000, 1_000_000))
    build_redner.stage(redner_checkout, xatlas, pybind11, staging)
    assert header.stat().st_mtime == 1_000_000, "an unchanged file is not copied again (no rebuild)"
    (redner_checkout / "src" / "redner.cpp").write_text("// changed\n")
    build_redner.stage(redner_checkout, xatlas, pybind11, staging)
    assert (staging / "src" / "redner.cpp").read_text() == "// changed\n"


def test_wheel_is_reproducible_and_pip_installs_it(redner_checkout, tmp_path):
    module = tmp_path / "redner.so"
    module.write_bytes(b"\x7fELF not really")
    files = build_redner.wheel_files(redner_checkout, module, None)
    suffix = "redner" + sysconfig.get_config_var("EXT_SUFFIX")
    assert sorted(files) == ["pyredner/__init__.py", "pyredner/camera.py", suffix]
    version = build_redner.redner_version(redner_checkout)
    assert version.startswith("0.4.28+g")
    first = build_redner.write_wheel(files, version, tmp_path / "a")
    second = build_redner.write_wheel(files, version, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        record = archive.read(f"redner-{version}.dist-info/RECORD").decode().splitlines()
        for line in record[:-1]:
            name, digest, size = line.rsplit(",", 2)
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={expected}", len(data))
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                          "--target", str(target), str(first)], capture_output=True, text=True, timeout=120)
    assert pip.returncode == 0, pip.stderr
    assert (target / suffix).read_bytes() == module.read_bytes()
    assert (target / "pyredner" / "camera.py").read_text() == "X = 1\n"
    assert (target / f"redner-{version}.dist-info" / "METADATA").is_file()


def test_pybind11_version_is_read_from_its_header(tmp_path):
    header = tmp_path / "common.h"
    header.write_text("#define PYBIND11_VERSION_MAJOR 2\n#  define PYBIND11_VERSION_MINOR 10\n")
    assert build_redner._version_of_header(header, "PYBIND11_VERSION_MAJOR", "PYBIND11_VERSION_MINOR") == (2, 10)
    assert build_redner.pybind11_needed() >= (2, 6)
    if sys.version_info[:2] == (3, 11):
        assert build_redner.pybind11_needed() == (2, 10)
