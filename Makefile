# Two commands do all the set-up: `make serve` and `make test` (each creates .venv if missing).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
DATA   ?= ../shared/data

.PHONY: install serve test lint default-model clean

$(STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh $(VENV)
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/presslens serve

test: $(STAMP)
	$(BIN)/ruff check model api training eval tests
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check model api training eval tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
