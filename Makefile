# The two set-up commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PYTEST_ARGS ?=

.PHONY: demo test bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Stamps re-run the install whenever the package metadata changes.
$(VENV)/.demo-installed: setup.cfg pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[train]'
	touch $@

$(VENV)/.test-installed: setup.cfg pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[train,optimize,dev]'
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/fer-edge demo --no-show --out runs/demo

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

FRAMES ?= 10000
soak: $(VENV)/.test-installed
	$(BIN)/python benchmarks/soak.py --frames $(FRAMES)

clean:
	rm -rf $(VENV) runs build *.egg-info
