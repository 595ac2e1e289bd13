# Set-up, run and test. Every target is idempotent: set-up is redone only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: setup run test ingest lint eval bench clean

setup: $(STAMP)

# torch==2.13.0 first: it resolves to the CPU build on this machine; an unpinned torch pulled in
# by sentence-transformers would download several GB of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

ingest: setup
	$(BIN)/zone-assistant ingest

run: ingest
	$(BIN)/zone-assistant serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check assistant ingest eval tests
	$(BIN)/mypy

eval: ingest
	$(BIN)/zone-assistant eval

clean:
	rm -rf data
