# Developer entry points. `make serve` runs Kassa with its dev chain; `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: `make serve` installs what the server needs; tests, lint and type checks add the dev tools.
RUNTIME_STAMP := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.installed-stamp
# The coverage gate of the whole suite (measured 91 % of lines); `make test COVERAGE= PYTEST_ARGS=…` for a subset.
COVERAGE ?= --cov=kassa --cov-report=term:skip-covered --cov-fail-under=90
TOOLS_STAMP := tools/node_modules/.installed-stamp

.PHONY: setup serve test lint typecheck check bench contracts mutation clean

setup: $(STAMP)

# Node tools for the tests and the contract build: solc-js and anvil (an independent EVM node).
$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $(TOOLS_STAMP)

$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Kassa needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(RUNTIME_STAMP)
	$(BIN)/kassa serve --devnet

test: setup $(TOOLS_STAMP)
	scripts/ensure-test-services
	$(BIN)/pytest $(COVERAGE) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: setup
	$(BIN)/mypy

check: lint typecheck test

contracts: $(TOOLS_STAMP)
	node src/kassa/chains/contracts/build.js

bench: setup $(TOOLS_STAMP)
	scripts/ensure-test-services
	$(BIN)/python -m bench.api_throughput
	$(BIN)/python -m bench.checkout_throughput
	$(BIN)/python -m bench.watcher_cost
	$(BIN)/python -m bench.page_render
	$(BIN)/python -m bench.list_memory

# Mutation testing of the money code (configured in pyproject.toml, [tool.mutmut]); not part of CI. Mutants live in
# ./mutants; `$(BIN)/mutmut results` lists survivors, `$(BIN)/mutmut show NAME` shows one.
MUTANTS := "kassa.money*" "kassa.checkout.amounts*" "kassa.payments.recording.x_to_*" "kassa.payments.recording.x__pow10*"
mutation: setup
	rm -rf mutants
	$(BIN)/mutmut run $(MUTANTS)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .kassa .mypy_cache .ruff_cache .pytest_cache mutants
