"""SQLite backup and restore through SQLite's online backup API.

The copy runs inside one read transaction on the source: in WAL mode (Tortoise's default)
the server keeps writing while the backup reads one consistent snapshot, page batch by
page batch, without restarting. The manifest is then read from the finished copy itself,
so its counts describe exactly the file next to it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tortoise.backends.base.config_generator import expand_db_url

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

DATA_FILE = "jigsaw.sqlite3"
PAGES_PER_STEP = 1024  # 4 MiB at the default page size
BUSY_TIMEOUT = 30.0  # seconds to wait for a writer holding a lock


def sqlite_path(database_url: str) -> Path:
    """The database file of a sqlite:// URL (an in-memory database has none)."""
    path = str(expand_db_url(database_url)["credentials"]["file_path"])
    if path in ("", ":memory:"):
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(path)


@contextlib.contextmanager
def _opened(path: Path, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode; read-only ones never touch the file."""
    if read_only:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    else:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def _copy(source: sqlite3.Connection, target: Path, label: str, progress: Progress) -> None:
    """Copy `source` page by page into a new file at `target`."""
    with _opened(target) as copy:

        def step(status: int, remaining: int, total: int) -> None:
            progress(label, total - remaining, total)

        source.backup(copy, pages=PAGES_PER_STEP, progress=step, sleep=0)


def describe(path: Path) -> tuple[dict[str, int], AuditHead | None, str]:
    """Row counts of the main tables, the audit head and the schema of a database file."""
    with _opened(path, read_only=True) as db:
        existing = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        counts = {t: int(db.execute(count_sql(t)).fetchone()[0]) for t in main_tables(existing)}
        head = db.execute(AUDIT_HEAD_SQL).fetchone() if "audit_record" in existing else None
        schema = db.execute(SCHEMA_SQL).fetchone() if "tortoise_migrations" in existing else None
    audit_head = AuditHead(int(head[0]), str(head[1])) if head else None
    return counts, audit_head, str(schema[0]) if schema else ""


def backup_sqlite(database_url: str, directory: Path, progress: Progress) -> Manifest:
    """Copy the live database into `directory` and describe the copy."""
    source_path = sqlite_path(database_url)
    if not source_path.is_file():
        raise BackupError(f"No SQLite database at {source_path}.")
    target = directory / DATA_FILE
    partial = directory / f".{DATA_FILE}.partial"
    with _opened(source_path) as source:
        source.execute("BEGIN")  # one read snapshot for every step of the copy
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        _copy(source, partial, "Copying the database", progress)
        source.execute("COMMIT")
    with _opened(partial) as copy:
        if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError("The copy failed SQLite's integrity check; nothing was written.")
        # A self-contained file: reading it later (even from read-only media) needs no
        # -wal/-shm files beside it. The server switches a restored copy back to WAL.
        copy.execute("PRAGMA journal_mode=DELETE")
    os.replace(partial, target)
    counts, head, schema = describe(target)
    return Manifest(
        engine="sqlite",
        file=DATA_FILE,
        sha256=sha256_of(target, progress, "Hashing the backup (SHA-256)"),
        size=target.stat().st_size,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        app_version=app_version(),
        schema=schema,
        counts=counts,
        audit_head=head,
    )


def check_empty_target(target: Path) -> None:
    """Restore writes a new database: the configured file must be absent or empty."""
    for path in (target, Path(f"{target}-wal")):
        if path.exists() and path.stat().st_size > 0:
            raise BackupError(
                f"{path} already exists and is not empty: restore only writes a new database."
                " Move it away (or set JIGSAW_DATABASE_URL to a new file) and run restore again."
            )


def restore_sqlite(manifest: Manifest, data: Path, database_url: str, progress: Progress) -> None:
    """Copy the (already hash-checked) backup to the configured path, checking the copy
    against the manifest before it takes the database's name."""
    target = sqlite_path(database_url)
    check_empty_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    partial.unlink(missing_ok=True)
    try:
        with _opened(data, read_only=True) as source:
            _copy(source, partial, "Restoring the database", progress)
        counts, head, _ = describe(partial)
        check_matches(manifest, counts, head)
        check_empty_target(target)  # nobody created it meanwhile
        Path(f"{target}-shm").unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
