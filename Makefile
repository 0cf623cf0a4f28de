# Two commands do all set-up on a fresh clone (nothing else needs to be beside it):
#   make demo   -> creates .venv, installs the package, runs the standalone demo on the
#                  Online Retail export shipped in data/online_retail/
#   make test   -> creates .venv, installs the package with test tools (and Chromium via apt
#                  for the browser tests), runs the tests
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must be running for `make test`.
# `make help` lists every target.

PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/personalization
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

SERVE_ADDR ?= 127.0.0.1:8000

.DEFAULT_GOAL := help
.PHONY: help demo serve test lint format wheel benchmark benchmark-db benchmark-large benchmark-emails benchmark-rescore benchmark-writing benchmark-new-product clean browser

help: ## list the targets
	@echo "make <target>, e.g. make demo:"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z-]*:.*## / {printf "  %-18s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP) ## load the shipped Online Retail export, train, segment, render an email (~3 min)
	$(BIN)/saleor-personalization demo

serve: $(STAMP) ## GraphiQL on the demo's data at /graphql/ (SERVE_ADDR=127.0.0.1:8000)
	$(BIN)/saleor-personalization serve $(SERVE_ADDR)

# Headless Chromium renders the abandoned-checkout email in a test (Debian package).
browser: ## install Chromium (apt) for the browser tests, if missing
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Chromium (apt) for the email rendering test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }

test: $(STAMP) browser ## core tests on PostgreSQL + Redis, then ruff (PYTEST_ARGS narrows)
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## ruff fix and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

wheel: $(STAMP) ## build dist/saleor_personalization-*.whl (what you install into Saleor)
	$(BIN)/python -m build --wheel --outdir dist .

# The list-writing figure writes to PostgreSQL, as a shop does (BENCHMARK_DATABASE_URL).
BENCHMARK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/personalization_benchmark

benchmark-db:
	$(BIN)/python -m pip install --quiet -e '.[dev,benchmarks]'
	psql "$(dir $(BENCHMARK_DATABASE_URL))postgres" -tAc "SELECT 1 FROM pg_database \
		WHERE datname = '$(notdir $(BENCHMARK_DATABASE_URL))'" | grep -q 1 || \
		psql "$(dir $(BENCHMARK_DATABASE_URL))postgres" -c \
		"CREATE DATABASE $(notdir $(BENCHMARK_DATABASE_URL))"

benchmark: $(STAMP) benchmark-db ## recommendation quality and session recommendations on the Online Retail export
	DATABASE_URL=$(BENCHMARK_DATABASE_URL) $(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/session.py

benchmark-large: $(STAMP) benchmark-db ## a whole run on a synthetic shop with 20x the export's catalogue
	DATABASE_URL=$(BENCHMARK_DATABASE_URL) $(BIN)/python benchmarks/large_catalogue.py

benchmark-emails: $(STAMP) ## abandoned-checkout scan speed
	$(BIN)/python benchmarks/abandoned_scan.py

benchmark-rescore: $(STAMP) benchmark-db ## one customer's lists rescored after an order, vs reading every purchase
	DATABASE_URL=$(BENCHMARK_DATABASE_URL) $(BIN)/python benchmarks/rescore.py

# Its Celery part starts a worker on this broker (and result backend).
BENCHMARK_BROKER_URL ?= redis://127.0.0.1:6379/13

benchmark-writing: $(STAMP) benchmark-db ## every customer's lists written by the scoring service, one process and 2 Celery workers
	DATABASE_URL=$(BENCHMARK_DATABASE_URL) CELERY_BROKER_URL=$(BENCHMARK_BROKER_URL) \
		CELERY_RESULT_BACKEND=$(BENCHMARK_BROKER_URL) $(BIN)/python benchmarks/writing.py

# A running Saleor with the plugin, a trained model and a Celery worker (see README).
API ?= http://127.0.0.1:8000/graphql/
benchmark-new-product: $(STAMP) ## on a running shop: productCreate until the product has neighbours (API, STAFF_EMAIL, STAFF_PASSWORD)
	@test -n "$(STAFF_EMAIL)" -a -n "$(STAFF_PASSWORD)" || \
		{ echo "set STAFF_EMAIL and STAFF_PASSWORD (a staff user of the shop at API)"; exit 2; }
	$(BIN)/python -m pip install --quiet -e '.[dev,benchmarks]'
	$(BIN)/python benchmarks/new_product_live.py --api "$(API)" \
		--email "$(STAFF_EMAIL)" --password "$(STAFF_PASSWORD)"

clean: ## remove .venv, build output and the demo's .personalization/
	rm -rf $(VENV) dist build *.egg-info .personalization

# Saleor integration tests (tests/saleor/) inside an existing Saleor 3.23 checkout
# whose environment was created with `uv sync` (SALEOR_DIR/.venv). This installs this
# package into that environment (editable) and runs the tests with Saleor's settings.
SALEOR_DIR ?= ../saleor
SALEOR_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/saleor
UV ?= uv

# pytest inside Saleor's environment, with Saleor's settings and fixtures.
SALEOR_PYTEST = $(UV) pip install --quiet --python $(SALEOR_DIR)/.venv/bin/python \
		-e '.[saleor-tests]' && \
	DATABASE_URL=$(SALEOR_DATABASE_URL) PYTHONPATH=$(abspath $(SALEOR_DIR)):$(CURDIR) \
		DJANGO_SETTINGS_MODULE=tests.saleor.settings \
		$(SALEOR_DIR)/.venv/bin/python -m pytest -p tests.saleor.saleor_pytest_plugin \
		--ds=tests.saleor.settings --reuse-db -W ignore::DeprecationWarning
# A benchmark file runs as a test module whose bench_* functions are the tests.
SALEOR_BENCH = $(SALEOR_PYTEST) -p tests.saleor.conftest -o python_functions='bench_*' -s -q

.PHONY: test-saleor benchmark-saleor benchmark-graphql
# SALEOR_TESTS narrows the run, e.g. SALEOR_TESTS=tests/saleor/test_hooks.py
SALEOR_TESTS ?= tests/saleor
test-saleor: ## tests/saleor inside a Saleor 3.23 checkout (SALEOR_DIR, SALEOR_TESTS)
	$(SALEOR_PYTEST) $(SALEOR_TESTS) $(PYTEST_ARGS)

benchmark-saleor: ## Saleor request overhead with the plugin (SALEOR_DIR)
	$(SALEOR_BENCH) -o python_files=saleor_overhead.py benchmarks/saleor_overhead.py $(PYTEST_ARGS)

benchmark-graphql: ## GraphQL latency inside Saleor (SALEOR_DIR)
	$(SALEOR_BENCH) -o python_files=graphql_latency.py benchmarks/graphql_latency.py $(PYTEST_ARGS)
