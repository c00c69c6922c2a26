# The README's quick start: `make demo` and `make test` on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test install install-test install-rec lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch first and pinned: the CPU wheel on this machine's disk; a bare `torch` would pull a CUDA build.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

# The test extras: TensorFlow (CPU), a real local Ray, and Debian's chromium for the view's browser test
# (installed where it is missing and we are root; the test skips with its reason elsewhere).
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[dev,tf,ray]'
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed: the browser test of the view will be skipped"; \
	fi
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Optional: TorchRec for the DLRM parity check (tests/rec/test_torchrec.py runs once it is there).
install-rec: install-test
	$(PIP) install -e '.[rec]'
	$(PIP) install --no-deps torchrec==1.8.0

demo: install
	$(BIN)/python examples/demo.py

test: install-test
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
