# The two commands a new user needs are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
DEMO_OUT ?= demo-out

.PHONY: demo test faults lint deps compile bench clean lock

deps: $(PY_STAMP) $(NODE_STAMP)

# Pinned and hash-checked (requirements-dev.lock: the runtime, the in-process chain and the dev
# tools), then the project itself without resolving anything again.
$(PY_STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
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
	$(BIN)/lint-imports --no-cache

test: deps lint
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	$(BIN)/pytest -n 2 -m "not faults"

# Fault campaigns (docs/reliability.md): real processes killed and a chain reorganised, a few
# minutes; CI runs them after `make test`. RECORD=1 writes the numbers into docs/reliability.md.
# Then the OpenAPI fuzzing of both services again, 90 s a run (20 s in `make test`).
faults: deps
	bash scripts/ensure-postgres.sh
	PROVENANCE_FAULTS_RECORD=$(RECORD) $(BIN)/pytest -n 0 -m faults -s tests/faults tests/gateway/test_scale_out_crash.py
	PROVENANCE_FUZZ_SECONDS=90 $(BIN)/pytest -n 0 tests/provenance/test_fuzz.py

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
	$(BIN)/python -m bench.export

# Re-pin every dependency from PyPI (after changing pyproject.toml): the image installs
# requirements.lock (runtime only), `make deps` requirements-dev.lock.
LOCK := $(BIN)/uv pip compile pyproject.toml build-requirements.in --universal --generate-hashes --python-version 3.11 --quiet
lock: deps
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev -o requirements-dev.lock

clean:
	rm -rf $(VENV) node_modules $(DEMO_OUT)
