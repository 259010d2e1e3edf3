# The two commands: `make run` and `make test`. Everything else is a helper of those
# (`make lint` and `make test-quick` are the developer's local loop).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= sqlite:///tailor.db
HOST ?= 127.0.0.1
PORT ?= 8000
# `make run` and `make test` share one venv holding every extra: serve (gunicorn), batch (dask), postgres (psycopg), dev
EXTRAS ?= serve,batch,postgres,redis,dev

.PHONY: run test test-quick lint venv oracle fixtures preview check bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

venv: $(BIN)/.installed

# Official MJML (npm), the oracle of the rendering-fidelity tests.
oracle/node_modules/.installed: oracle/package.json oracle/package-lock.json
	cd oracle && npm ci --no-audit --no-fund --loglevel=error
	touch $@

oracle: oracle/node_modules/.installed

## make run: set up, load the example shop into the embedded SQLite store, and serve it
run: venv
	TAILOR_DATABASE_URL=$(DB) $(BIN)/tailor ingest fixtures/catalog.csv fixtures/profiles.csv fixtures/events.jsonl
	TAILOR_DATABASE_URL=$(DB) $(BIN)/tailor serve --host $(HOST) --port $(PORT)

## make preview: every template x every persona as static HTML in out/
preview: venv
	TAILOR_DATABASE_URL=$(DB) $(BIN)/tailor preview --out out

## make test: set up (Python dev extras, official MJML) and run the whole suite
test: venv oracle
	$(BIN)/python -m pytest

## make test-quick: the local loop — no browser, PostgreSQL, Node oracle or slow tests (markers: tests/conftest.py)
test-quick: venv
	$(BIN)/python -m pytest -m "not browser and not postgres and not oracle and not slow"

## make lint: what CI checks before the tests — ruff's rules, ruff's formatting, mypy's types
## (all three run, so one pass shows every finding; any finding fails the target)
lint: venv
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

fixtures: venv
	$(BIN)/python scripts/generate_fixtures.py --out fixtures

check: venv
	$(BIN)/tailor check

bench: venv oracle
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf $(VENV) oracle/node_modules out tailor.db tailor.db-wal tailor.db-shm
