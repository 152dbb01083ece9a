# The two README commands: `make demo` and `make test`. Everything else is a helper.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install demo test test-deps lint test-sqlite test-postgres bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/jigsaw serve --demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-sqlite: install
	JIGSAW_TEST_BACKEND=sqlite $(BIN)/pytest

# Runs only when JIGSAW_TEST_DATABASE_URL names a PostgreSQL server (.ci/run sets it).
test-postgres: install
	@if [ -n "$$JIGSAW_TEST_DATABASE_URL" ]; then \
		JIGSAW_TEST_BACKEND=postgres $(BIN)/pytest; \
	else echo "JIGSAW_TEST_DATABASE_URL not set: PostgreSQL tests skipped"; fi

# Chromium, Node/npm and HAProxy from Debian when missing: a skipped test is not a pass.
test-deps:
	bash .ci/test-deps

test: test-deps lint test-sqlite test-postgres

bench: install
	$(BIN)/python -m loadtests.velocity_bench --quick
