# Two commands on a fresh machine:  make run   |   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every package at the exact version (and wheel) the tests passed with; scripts/lock.py writes it.
LOCK := requirements.lock
# Reinstall whenever the project's dependencies or the lock change.
DEPS := $(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(DEPS)
DEV_STAMP := $(VENV)/.installed-dev-$(DEPS)

.PHONY: run test install install-dev index bench profile eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q pip==26.3

# The lock holds the runtime and the test tools alike, each with its wheel's hash (pip refuses a
# package it leaves out); torch is the CPU build from this machine's wheel folder, never the
# multi-GB CUDA one. The project itself goes in last, built with the locked setuptools and
# without dependencies of its own choosing; `pip check` then confirms the lock satisfies
# pyproject.toml.
$(STAMP): $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	@rm -f $(VENV)/.installed-[0-9]*
	@touch $@

$(DEV_STAMP): $(STAMP)
	@command -v tmux >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && \
		(apt-get install -y -qq tmux >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq tmux >/dev/null 2>&1)) || \
		echo "note: tmux not available; the tmux end-to-end test will be skipped")
	@rm -f $(VENV)/.installed-dev-*
	@touch $@

install: $(STAMP)

install-dev: $(DEV_STAMP)

index: install
	$(BIN)/qa index

run: install index
	$(BIN)/qa

test: install-dev
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests were collected"; exit 1; fi; exit $$rc

bench: install-dev
	$(BIN)/python scripts/bench.py

# Where a cold `qa ask` spends its time (`index` also exports the ONNX model).
profile: install-dev index
	$(BIN)/python -m pyinstrument -m qa ask "What did Rusk say about July?" --json

# Every development archive leave-one-archive-out, plus SQuAD odd articles -> docs/quality.md.
eval: install-dev
	$(BIN)/python scripts/eval.py --markdown docs/quality.md

clean:
	rm -rf index/gen-* index/.tmp-* index/CURRENT index/.lock
