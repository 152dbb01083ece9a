"""Test databases: SQLite always, PostgreSQL when JIGSAW_TEST_DATABASE_URL is set.

One backend per pytest process (JIGSAW_TEST_BACKEND=sqlite|postgres): Tortoise caches
SQL with the first backend's placeholders. Schemas are built by the real migrations,
once per run, in a subprocess so no event loop or connection leaks into the tests.
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

PG_ENV = "JIGSAW_TEST_DATABASE_URL"


def backend() -> str:
    chosen = os.environ.get("JIGSAW_TEST_BACKEND", "sqlite")
    if chosen == "postgres" and not os.environ.get(PG_ENV):
        raise RuntimeError(f"JIGSAW_TEST_BACKEND=postgres needs {PG_ENV}")
    return chosen


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def migrate_in_subprocess(url: str) -> None:
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
    target = directory / "test.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite://{target}"


async def truncate_postgres(url: str) -> None:
    """Empty every table but the migration history, before an app starts on it.

    TRUNCATE skips the audit log's row triggers; RESTART IDENTITY resets event ids.
    """
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT LIKE 'tortoise%'"
        )
        tables = ", ".join(f'"{row["tablename"]}"' for row in rows)
        if tables:
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
