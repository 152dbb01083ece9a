"""Which tests the PostgreSQL pass of `make test` runs: those that use the database backend.

A test uses the backend when the `database_backend` fixture is in its fixture closure:
`database_source` (and so `database_url`, `settings`, `app`, `client`, `make`, `live`...)
depends on it, and PostgreSQL-only tests declare it (`db_backends.postgres_only`). Every
other test (pure functions, the architecture, CLI runs on a SQLite file of their own,
benchmarks of the pure detectors) does the same thing whatever JIGSAW_TEST_BACKEND says, so
`make test` runs it in the SQLite pass only: the PostgreSQL pass passes `--backend-tests-only`.

Two checks keep the derivation honest, in every run. A test that reaches the backend
(tests/db_backends.py) without the fixture fails, and so does a test without the fixture
that is skipped in the SQLite pass: the PostgreSQL pass would not select it, so it would
run nowhere.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests import db_backends

FIXTURE = "database_backend"
OPTION = "--backend-tests-only"
TOUCHES_AT_SETUP = pytest.StashKey[int]()


def uses_backend(item: pytest.Item) -> bool:
    return FIXTURE in getattr(item, "fixturenames", ())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        OPTION,
        action="store_true",
        help="run only the tests that use the database backend (the PostgreSQL pass of "
        "`make test`; the others do the same on both backends and run in the SQLite pass)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption(OPTION):
        return
    kept = [item for item in items if uses_backend(item)]
    left = [item for item in items if not uses_backend(item)]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    if config.getoption(OPTION):
        return (
            f"backend {db_backends.selected()}: only tests that use the database backend "
            "(the others do the same on both backends: they run in the SQLite pass)"
        )
    return f"backend {db_backends.selected()}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[TOUCHES_AT_SETUP] = db_backends.touches


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if uses_backend(item) or report.when == "teardown" or hasattr(report, "wasxfail"):
        return report
    problem = _undeclared(item, report)
    if problem and not report.failed:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: {problem}"
    return report


def _undeclared(item: pytest.Item, report: pytest.TestReport) -> str | None:
    advice = (
        f"declare the `{FIXTURE}` fixture (directly, through `database_url`, or with "
        "`db_backends.postgres_only`): the PostgreSQL pass runs only the tests that use it"
    )
    touched = db_backends.touches > item.stash.get(TOUCHES_AT_SETUP, db_backends.touches)
    if touched:
        return f"reaches the database backend (tests/db_backends.py) undeclared: {advice}"
    if report.skipped and db_backends.selected() == "sqlite":
        return f"skipped in the SQLite pass, so it would run in neither pass: {advice}"
    return None
