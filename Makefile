# The two README commands: `make demo` and `make test`. Everything else is a helper.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install demo test test-deps lint test-sqlite test-postgres test-passes bench

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

# Runs only when JIGSAW_TEST_DATABASE_URL names a PostgreSQL server (.ci/run sets it), and
# only the tests that use the database backend: the others do the same on both backends and
# run in test-sqlite (tests/backend_passes.py).
test-postgres: install
	@if [ -n "$$JIGSAW_TEST_DATABASE_URL" ]; then \
		JIGSAW_TEST_BACKEND=postgres $(BIN)/pytest --backend-tests-only; \
	else echo "JIGSAW_TEST_DATABASE_URL not set: PostgreSQL tests skipped"; fi

# test-sqlite and test-postgres at the same time, each pass's output and summary printed.
test-passes: install
	bash .ci/test-passes "$(MAKE)"

# Chromium, Node/npm and HAProxy from Debian when missing: a skipped test is not a pass.
test-deps:
	bash .ci/test-deps

test: test-deps lint test-passes

bench: install
	$(BIN)/python -m loadtests.velocity_bench --quick
