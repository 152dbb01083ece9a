"""Test databases: SQLite always, PostgreSQL when JIGSAW_TEST_DATABASE_URL is set.

One backend per pytest process (JIGSAW_TEST_BACKEND=sqlite|postgres): Tortoise caches
SQL with the first backend's placeholders. Schemas are built by the real migrations,
once per run, in a subprocess so no event loop or connection leaks into the tests.

Every call that reaches the backend is counted (`touches`): tests/backend_passes.py fails
a test that reaches it without declaring the `database_backend` fixture, because the
PostgreSQL pass of `make test` selects tests by that fixture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

PG_ENV = "JIGSAW_TEST_DATABASE_URL"
touches = 0  # calls that reached the backend, for tests/backend_passes.py


def _touch() -> None:
    global touches
    touches += 1


def selected() -> str:
    """This run's backend, without counting as a use of it (for hooks and markers)."""
    chosen = os.environ.get("JIGSAW_TEST_BACKEND", "sqlite")
    if chosen == "postgres" and not os.environ.get(PG_ENV):
        raise RuntimeError(f"JIGSAW_TEST_BACKEND=postgres needs {PG_ENV}")
    return chosen


def backend() -> str:
    _touch()
    return selected()


def postgres_only(reason: str) -> list[pytest.MarkDecorator]:
    """Marks for PostgreSQL-only tests: skipped in the SQLite pass, and declared as using
    the backend (the `database_backend` fixture), so the PostgreSQL pass selects them."""
    return [
        pytest.mark.skipif(selected() != "postgres", reason=reason),
        pytest.mark.usefixtures("database_backend"),
    ]


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def migrate_in_subprocess(url: str) -> None:
    _touch()
    _run(
        "import asyncio; from feeds.db import migrate_database; "
        f"asyncio.run(migrate_database({url!r}))"
    )


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(url: str, sql: str) -> None:
    _run(
        f"import asyncio, asyncpg\nasync def m():\n c = await asyncpg.connect({url!r})\n"
        f" await c.execute({sql!r})\n await c.close()\nasyncio.run(m())"
    )


def create_empty_postgres_database() -> str:
    """A fresh database with no tables (what `jigsaw restore` fills); returns its URL."""
    _touch()
    base = os.environ[PG_ENV]
    name = f"jigsaw_test_{uuid.uuid4().hex[:10]}"
    _admin(base, f'CREATE DATABASE "{name}"')
    return _with_database(base, name)


def create_postgres_database() -> str:
    """A fresh, migrated database named for this run; returns its URL."""
    url = create_empty_postgres_database()
    migrate_in_subprocess(url)
    return url


def drop_postgres_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    _admin(os.environ[PG_ENV], f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_sqlite_template(directory: Path) -> Path:
    template = directory / "template.sqlite3"
    migrate_in_subprocess(f"sqlite://{template}")
    return template


def sqlite_copy(template: Path, directory: Path) -> str:
    _touch()
    target = directory / "test.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite://{target}"


# Empties the schema in one round trip. DELETE, not TRUNCATE: TRUNCATE gives ~50 tables and
# ~130 indexes new files and took over a second per test on this box (fsync), DELETE of a
# test's few rows ~20 ms. session_replication_role = replica turns off the row triggers (the
# audit log's append-only guard, foreign keys) for this transaction, as TRUNCATE skips them;
# setval restarts the sequences that were used, as RESTART IDENTITY did (event ids from 1).
_EMPTY_SCHEMA = """
DO $$
DECLARE
    name text;
BEGIN
    PERFORM set_config('session_replication_role', 'replica', true);
    FOR name IN SELECT format('%I', relname) FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')
        AND NOT relispartition AND relname NOT LIKE 'tortoise%'
    LOOP
        EXECUTE 'DELETE FROM ' || name;
    END LOOP;
    FOR name IN SELECT format('%I', sequencename) FROM pg_sequences
        WHERE schemaname = 'public' AND last_value IS NOT NULL
    LOOP
        PERFORM setval(name::regclass, 1, false);
    END LOOP;
END $$
"""


async def truncate_postgres(url: str) -> None:
    """Empty every table but the migration history, before an app starts on it, and
    restart the sequences (the tables as TRUNCATE ... RESTART IDENTITY leaves them)."""
    _touch()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(_EMPTY_SCHEMA)
    finally:
        await conn.close()
