# The README's quick start: `make demo` and `make test` on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test install install-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch first and pinned: the CPU wheel on this machine's disk; a bare `torch` would pull a CUDA build.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[dev,tf]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/python examples/demo.py

test: install-test
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
