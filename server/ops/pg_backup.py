"""PostgreSQL backup and restore with pg_dump/pg_restore (custom format).

pg_dump reads a snapshot exported by a repeatable-read transaction that this module holds
open, and the manifest's counts are read in that same transaction: the counts describe
exactly what was dumped, however busy the server. The password travels in PGPASSWORD,
never on a command line.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg

from server.ops.manifest import (
    AUDIT_HEAD_SQL,
    SCHEMA_SQL,
    AuditHead,
    BackupError,
    Manifest,
    Progress,
    app_version,
    check_matches,
    count_sql,
    main_tables,
    sha256_of,
)

DATA_FILE = "jigsaw.pgdump"
DEBIAN_BIN = "/usr/lib/postgresql/{major}/bin"
TABLES_SQL = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
USER_TABLES_SQL = (
    "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
)


@dataclass(frozen=True)
class PgTarget:
    """Where a database URL points, as asyncpg and libpq's PG* variables take it."""

    host: str | None
    port: int | None
    user: str | None
    password: str | None
    database: str

    @classmethod
    def of(cls, url: str) -> PgTarget:
        parts = urlsplit(url)
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise BackupError("The PostgreSQL URL names no database.")
        return cls(
            host=parts.hostname,
            port=parts.port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            database=database,
        )

    def env(self) -> dict[str, str]:
        values = {
            "PGHOST": self.host,
            "PGPORT": str(self.port) if self.port else None,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
        }
        return {**os.environ, **{k: v for k, v in values.items() if v is not None}}

    async def connect(self) -> Any:
        try:
            return await asyncpg.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                database=self.database,
            )
        except asyncpg.InvalidCatalogNameError:
            raise BackupError(
                f"Database {self.database!r} does not exist: create it first"
                f" (createdb {self.database})."
            ) from None
        except (OSError, asyncpg.PostgresError) as error:
            raise BackupError(f"Cannot connect to PostgreSQL: {error}") from None


async def tool(name: str, connection: Any, pg_bin: Path | None) -> str:
    """pg_dump/pg_restore: from `pg_bin`, else the server's own major version's Debian
    directory, else PATH (a client older than the server refuses to dump it)."""
    major = int(await connection.fetchval("SHOW server_version_num")) // 10000
    directories = [pg_bin] if pg_bin else [Path(DEBIAN_BIN.format(major=major))]
    for directory in directories:
        if directory is not None and (directory / name).is_file():
            return str(directory / name)
    found = shutil.which(name) if pg_bin is None else None
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL {major} client tools or pass --pg-bin."
        )
    return found


async def run_tool(
    argv: Sequence[str],
    env: dict[str, str],
    marker: str,
    label: str,
    total: int,
    progress: Progress,
) -> None:
    """Run a --verbose pg tool; each stderr line holding `marker` is one table done."""
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    done, tail = 0, deque[str](maxlen=12)
    while line := (await process.stderr.readline()).decode(errors="replace").rstrip():
        if marker in line:
            done += 1
            progress(label, min(done, total), total)
        elif "error" in line.lower() or "warning" in line.lower():
            tail.append(line)
    if await process.wait() != 0:
        name = Path(argv[0]).name
        raise BackupError(f"{name} failed (exit {process.returncode}): " + " | ".join(tail))


async def _describe(connection: Any) -> tuple[dict[str, int], AuditHead | None, str]:
    existing = {row[0] for row in await connection.fetch(TABLES_SQL)}
    counts = {t: int(await connection.fetchval(count_sql(t))) for t in main_tables(existing)}
    head = await connection.fetchrow(AUDIT_HEAD_SQL) if "audit_record" in existing else None
    schema = await connection.fetchval(SCHEMA_SQL) if "tortoise_migrations" in existing else ""
    return counts, AuditHead(int(head[0]), str(head[1])) if head else None, schema or ""


async def backup_postgres(
    database_url: str, directory: Path, progress: Progress, pg_bin: Path | None = None
) -> Manifest:
    """pg_dump the database into `directory` and describe the same snapshot."""
    target = PgTarget.of(database_url)
    partial, data = directory / f".{DATA_FILE}.partial", directory / DATA_FILE
    connection = await target.connect()
    try:
        pg_dump = await tool("pg_dump", connection, pg_bin)
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            tables = len(await connection.fetch(TABLES_SQL))
            argv = [
                pg_dump,
                "--format=custom",
                "--no-password",
                "--verbose",
                f"--snapshot={snapshot}",
                f"--file={partial}",
            ]
            await run_tool(
                argv, target.env(), "dumping contents of table", "Dumping tables", tables, progress
            )
            counts, head, schema = await _describe(connection)
    finally:
        await connection.close()
    os.replace(partial, data)
    return Manifest(
        engine="postgres",
        file=DATA_FILE,
        sha256=await asyncio.to_thread(sha256_of, data, progress, "Hashing the backup (SHA-256)"),
        size=data.stat().st_size,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        app_version=app_version(),
        schema=schema,
        counts=counts,
        audit_head=head,
    )


async def check_empty_target(connection: Any, database: str) -> None:
    if tables := int(await connection.fetchval(USER_TABLES_SQL)):
        raise BackupError(
            f"Database {database!r} already has {tables} tables: restore only fills an empty"
            f" database. Create a new one (createdb) and point JIGSAW_DATABASE_URL at it."
        )


async def check_target(database_url: str) -> None:
    """Refuse (before any long work) a target database that is missing or not empty."""
    target = PgTarget.of(database_url)
    connection = await target.connect()
    try:
        await check_empty_target(connection, target.database)
    finally:
        await connection.close()


async def _data_entries(pg_restore: str, data: Path, env: dict[str, str]) -> int:
    """How many tables' data the dump holds (for the progress bar)."""
    process = await asyncio.create_subprocess_exec(
        pg_restore,
        "--list",
        str(data),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    listing, _ = await process.communicate()
    return sum(" TABLE DATA " in line for line in listing.decode(errors="replace").splitlines())


async def restore_postgres(
    manifest: Manifest,
    data: Path,
    database_url: str,
    progress: Progress,
    pg_bin: Path | None = None,
) -> None:
    """pg_restore the (already hash-checked) dump into an empty database, in one
    transaction, then check it against the manifest."""
    target = PgTarget.of(database_url)
    connection = await target.connect()
    try:
        await check_empty_target(connection, target.database)
        pg_restore, env = await tool("pg_restore", connection, pg_bin), target.env()
        argv = [
            pg_restore,
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            "--no-password",
            "--verbose",
            f"--dbname={target.database}",
            str(data),
        ]
        total = await _data_entries(pg_restore, data, env)
        await run_tool(argv, env, "processing data for table", "Restoring tables", total, progress)
        counts, head, _ = await _describe(connection)
    finally:
        await connection.close()
    check_matches(manifest, counts, head)
