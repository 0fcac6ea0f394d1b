# The two commands a new user needs are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
DEMO_OUT ?= demo-out

.PHONY: demo test lint deps compile bench clean

deps: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: deps
	$(BIN)/provenance demo --out $(DEMO_OUT)

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: deps lint
	bash scripts/ensure-postgres.sh
	$(BIN)/pytest -n 2

compile: deps
	$(BIN)/python scripts/compile_contracts.py

bench: deps
	$(BIN)/python -m bench.merkle
	$(BIN)/python -m bench.gas
	$(BIN)/python -m bench.integrity --http
	bash scripts/ensure-postgres.sh
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.index
	$(BIN)/python -m bench.check

clean:
	rm -rf $(VENV) node_modules $(DEMO_OUT)
