# Two commands do all set-up on a fresh machine:
#   make demo   -> creates .venv, installs the package, runs the standalone demo
#   make test   -> creates .venv, installs the package with test tools (and Chromium via apt
#                  for the email rendering test), runs the tests
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must be running for `make test`.

PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/personalization
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: demo test lint format wheel benchmark benchmark-emails clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/saleor-personalization demo

# Headless Chromium renders the abandoned-checkout email in a test (Debian package).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Chromium (apt) for the email rendering test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }

test: $(STAMP) browser
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

wheel: $(STAMP)
	$(BIN)/python -m build --wheel --outdir dist .

benchmark: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,benchmarks]'
	$(BIN)/python benchmarks/quality.py

benchmark-emails: $(STAMP)
	$(BIN)/python benchmarks/abandoned_scan.py

clean:
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
test-saleor:
	$(SALEOR_PYTEST) $(SALEOR_TESTS) $(PYTEST_ARGS)

benchmark-saleor:
	$(SALEOR_BENCH) -o python_files=saleor_overhead.py benchmarks/saleor_overhead.py $(PYTEST_ARGS)

benchmark-graphql:
	$(SALEOR_BENCH) -o python_files=graphql_latency.py benchmarks/graphql_latency.py $(PYTEST_ARGS)
