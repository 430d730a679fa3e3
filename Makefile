# Developer entry points. `make serve` runs Kassa; `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup serve test lint typecheck check bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Kassa needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: setup
	$(BIN)/kassa serve

test: setup
	scripts/ensure-test-services
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: setup
	$(BIN)/mypy

check: lint typecheck test

bench: setup
	scripts/ensure-test-services
	$(BIN)/python -m bench.api_throughput

clean:
	rm -rf $(VENV) .kassa .mypy_cache .ruff_cache .pytest_cache
