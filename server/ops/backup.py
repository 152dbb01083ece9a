"""`jigsaw backup` and `jigsaw restore`: one data file and a manifest, in a directory.

Backup reads a consistent snapshot while the server keeps serving (SQLite's online backup
API, or pg_dump on an exported snapshot). Restore only fills an empty database, checks
the file's SHA-256 first and the restored rows against the manifest after, then migrates
forward and rebuilds what is derived (velocity, search).
"""

from __future__ import annotations

import asyncio
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from tortoise import Tortoise

from feeds import migrations
from feeds.audit.verify import Verdict, verify_chain
from feeds.db import migrate_database, tortoise_config
from server.ops import pg_backup, sqlite_backup
from server.ops.derived import Rebuilt, rebuild_derived
from server.ops.manifest import (
    BackupError,
    Manifest,
    Progress,
    check_file,
    check_schema_known,
    read_manifest,
    write_manifest,
)
from server.settings import Settings


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    rebuilt: Rebuilt
    audit: Verdict


def _engine(settings: Settings) -> str:
    return "sqlite" if settings.is_sqlite else "postgres"


def _prepare(directory: Path) -> None:
    """The backup directory is created, or must be empty: a backup never overwrites."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} already exists and is not an empty directory.")
    directory.mkdir(parents=True, exist_ok=True)


def _remove_partials(directory: Path) -> None:
    """A failed backup leaves no half-written file behind."""
    for partial in directory.glob(".*.partial"):
        partial.unlink()


async def do_backup(
    settings: Settings, directory: Path, progress: Progress, pg_bin: Path | None = None
) -> Manifest:
    """Back up the configured database into `directory` (data file, then manifest)."""
    _prepare(directory)
    try:
        if settings.is_sqlite:
            manifest = await asyncio.to_thread(
                sqlite_backup.backup_sqlite, settings.database_url, directory, progress
            )
        else:
            manifest = await pg_backup.backup_postgres(
                settings.database_url, directory, progress, pg_bin
            )
    except BaseException:
        _remove_partials(directory)
        raise
    write_manifest(directory, manifest)
    return manifest


def known_migrations() -> list[str]:
    return sorted(module.name for module in pkgutil.iter_modules(migrations.__path__))


async def _restore_data(
    settings: Settings, source: Path, progress: Progress, pg_bin: Path | None
) -> Manifest:
    manifest, data = read_manifest(source)
    if manifest.engine != _engine(settings):
        raise BackupError(
            f"This is a {manifest.engine} backup and JIGSAW_DATABASE_URL is {_engine(settings)}:"
            " restore into the same kind of database."
        )
    check_schema_known(manifest, known_migrations())
    if settings.is_sqlite:
        sqlite_backup.check_empty_target(sqlite_backup.sqlite_path(settings.database_url))
        await asyncio.to_thread(check_file, manifest, data, progress)
        await asyncio.to_thread(
            sqlite_backup.restore_sqlite, manifest, data, settings.database_url, progress
        )
    else:
        await pg_backup.check_target(settings.database_url)
        await asyncio.to_thread(check_file, manifest, data, progress)
        await pg_backup.restore_postgres(manifest, data, settings.database_url, progress, pg_bin)
    return manifest


async def do_restore(
    settings: Settings, source: Path, progress: Progress, pg_bin: Path | None = None
) -> Restored:
    """Restore a backup into the configured (empty) database and make it ready to serve."""
    manifest = await _restore_data(settings, source, progress, pg_bin)
    await migrate_database(settings.database_url)  # a backup from an older version
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        rebuilt = await rebuild_derived(settings, progress)
        verdict = await verify_chain()
    finally:
        await Tortoise.close_connections()
    return Restored(manifest, rebuilt, verdict)
