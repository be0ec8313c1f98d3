# Croupier: `make run` serves on http://127.0.0.1:8000, `make test` runs everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install install-dev run test lint typecheck pytest bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create the virtualenv and install Croupier

install-dev: $(VENV)/.installed-dev ## install Croupier with the test and lint tools

run: install ## migrate the embedded SQLite store and serve (creates a demo key on first start)
	$(BIN)/croupier db upgrade
	$(BIN)/croupier serve

test: install-dev lint typecheck pytest ## lint, type-check and run the whole suite

lint: install-dev ## ruff check and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-dev ## mypy --strict on src/
	$(BIN)/mypy src

pytest: install-dev ## the test suite (SQLite and the local PostgreSQL)
	$(BIN)/pytest

bench: install-dev ## ingest, projection and click benchmarks on SQLite and PostgreSQL; appends to bench/RESULTS.md
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.ingest --record $(BENCH_ARGS)
	$(BIN)/python -m bench.projection --record
	$(BIN)/python -m bench.projection --record --events 20000 --batch 50  # the embedded projector's batches
	$(BIN)/python -m bench.clicks --record

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
