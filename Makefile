# Two commands on a fresh machine:  make run   |   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever the project's dependencies change.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test install install-dev index bench profile eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is pinned and installed first: it is the CPU build that pip finds on this machine;
# letting a dependency pull an unpinned torch would fetch a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	@rm -f $(VENV)/.installed-[0-9]*
	@touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev]'
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
