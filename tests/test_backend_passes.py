"""The PostgreSQL pass selects tests by the `database_backend` fixture, and a test that would
escape both passes fails (tests/backend_passes.py), shown on a small suite of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CONFTEST = """
import pytest
from tests import db_backends

pytest_plugins = ["tests.backend_passes"]


@pytest.fixture(scope="session")
def database_backend():
    return db_backends.backend()


@pytest.fixture
def database_url(database_backend):
    return f"{database_backend}://x"
"""

SUITE = """
import pytest
from tests import db_backends


def test_pure():
    assert 1 + 1 == 2


def test_on_the_database(database_url):
    assert database_url


class TestPostgresOnly:
    pytestmark = db_backends.postgres_only("PostgreSQL only")

    def test_it(self):
        assert db_backends.selected() == "postgres"
"""

UNDECLARED = """
import pytest
from tests import db_backends


def test_asks_for_the_backend_without_the_fixture():
    assert db_backends.backend()


@pytest.mark.skipif(db_backends.selected() != "postgres", reason="PostgreSQL only")
def test_skipped_on_sqlite_without_the_fixture():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # A process of its own: the suite's calls into tests/db_backends.py are not this test's.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("JIGSAW_TEST_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_postgres_pass_runs_only_the_tests_that_use_the_backend(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIGSAW_TEST_BACKEND", "postgres")
    result = suite.runpytest_subprocess("--backend-tests-only", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, deselected=1)
    result.stdout.fnmatch_lines(["*only tests that use the database backend*"])


def test_sqlite_pass_runs_every_test(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIGSAW_TEST_BACKEND", "sqlite")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=1)


def test_without_the_option_postgres_runs_every_test(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIGSAW_TEST_BACKEND", "postgres")
    suite.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_a_test_that_would_run_in_neither_pass_fails(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIGSAW_TEST_BACKEND", "sqlite")
    suite.makepyfile(test_undeclared=UNDECLARED)
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "test_undeclared.py")
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*reaches the database backend (tests/db_backends.py) undeclared*"]
    )
    result.stdout.fnmatch_lines(["*skipped in the SQLite pass, so it would run in neither pass*"])
