"""What a backup says about itself: manifest.json next to the one data file.

The manifest records when and by which version the backup was made, the schema (last
migration), the number of rows in every main table, the audit chain's head and the data
file's SHA-256. A restore checks the file against the hash before using it, and the
restored database against the counts and the head before anyone uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from feeds.raw_sql import model_tables

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1 << 20
Progress = Callable[[str, int, int], None]  # (stage label, done, total)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

# The chain's head: the highest sealed seq (the newest rows may not be sealed yet).
AUDIT_HEAD_SQL = "SELECT id, hash FROM audit_record WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
SCHEMA_SQL = "SELECT name FROM tortoise_migrations ORDER BY id DESC LIMIT 1"


class BackupError(Exception):
    """A backup or restore cannot go ahead; the message says why and what to do."""


def quiet(stage: str, done: int, total: int) -> None:
    """A Progress that shows nothing."""


@dataclass(frozen=True)
class AuditHead:
    id: int
    hash: str


@dataclass(frozen=True)
class Manifest:
    engine: str  # "sqlite" or "postgres"
    file: str  # the data file's name, in the manifest's directory
    sha256: str
    size: int
    created_at: str  # ISO 8601, UTC
    app_version: str
    schema: str  # the last migration applied
    counts: dict[str, int]
    audit_head: AuditHead | None
    format: int = field(default=FORMAT)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            data: dict[str, Any] = json.loads(text)
            head = data.pop("audit_head")
            manifest = cls(**data, audit_head=AuditHead(**head) if head else None)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise BackupError(f"The manifest is not a Jigsaw backup manifest ({error}).") from None
        check_manifest(manifest)
        return manifest


def check_manifest(manifest: Manifest) -> None:
    """Refuse a manifest this version cannot read, or whose names could not be tables."""
    if manifest.format != FORMAT:
        raise BackupError(f"Backup format {manifest.format} is not supported (expected {FORMAT}).")
    if manifest.engine not in ("sqlite", "postgres"):
        raise BackupError(f"Unknown database engine in the manifest: {manifest.engine!r}.")
    if Path(manifest.file).name != manifest.file or manifest.file in ("", ".", ".."):
        raise BackupError("The manifest names its data file outside the backup directory.")
    if not all(_IDENTIFIER.match(name) for name in manifest.counts):
        raise BackupError("The manifest lists a table name that is not a plain identifier.")


def count_sql(table: str) -> str:
    """SELECT count(*) for one table whose name is a plain identifier."""
    if not _IDENTIFIER.match(table):
        raise BackupError(f"Not a table name: {table!r}.")
    return f'SELECT count(*) FROM "{table}"'  # noqa: S608 - identifier checked above


def main_tables(existing: set[str]) -> list[str]:
    """The model tables present in a database (a very old backup may lack newer ones)."""
    return [table for table in model_tables() if table in existing]


def app_version() -> str:
    try:
        return metadata.version("jigsaw")
    except metadata.PackageNotFoundError:
        return "unknown"


def sha256_of(path: Path, progress: Progress = quiet, label: str = "Hashing") -> str:
    """The file's SHA-256, read in chunks (progress in bytes)."""
    digest, size, done = hashlib.sha256(), path.stat().st_size, 0
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            progress(label, done, size)
    return digest.hexdigest()


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    """Write manifest.json last and atomically: a directory without one is no backup."""
    target = directory / MANIFEST
    partial = directory / f".{MANIFEST}.partial"
    partial.write_text(manifest.to_json())
    os.replace(partial, target)
    return target


def read_manifest(source: Path) -> tuple[Manifest, Path]:
    """The manifest and the data file of a backup directory (or of its manifest.json)."""
    path = source / MANIFEST if source.is_dir() else source
    if not path.is_file():
        raise BackupError(f"No {MANIFEST} in {source}: not a Jigsaw backup (or an incomplete one).")
    manifest = Manifest.from_json(path.read_text())
    data = path.parent / manifest.file
    if not data.is_file():
        raise BackupError(f"The backup's data file {data} is missing.")
    return manifest, data


def check_file(manifest: Manifest, data: Path, progress: Progress = quiet) -> None:
    """Refuse a data file whose size or SHA-256 is not the manifest's."""
    if data.stat().st_size != manifest.size:
        raise BackupError(
            f"{data.name} has {data.stat().st_size} bytes, the manifest says {manifest.size}:"
            " the backup is damaged or incomplete."
        )
    if sha256_of(data, progress, "Checking the backup's SHA-256") != manifest.sha256:
        raise BackupError(f"{data.name} does not match the manifest's SHA-256: it is damaged.")


def check_matches(manifest: Manifest, counts: dict[str, int], head: AuditHead | None) -> None:
    """Refuse a restored database whose row counts or audit head differ from the manifest."""
    wrong = [
        f"{table}: {counts.get(table, 'no table')} rows, manifest {expected}"
        for table, expected in sorted(manifest.counts.items())
        if counts.get(table) != expected
    ]
    if head != manifest.audit_head:
        wrong.append(f"audit head {head}, manifest {manifest.audit_head}")
    if wrong:
        raise BackupError(
            "The restored database does not match the backup's manifest; do not use it. "
            + "; ".join(wrong)
        )


def check_schema_known(manifest: Manifest, known: list[str]) -> None:
    """Refuse a backup made by a newer Jigsaw (its schema has migrations this one lacks)."""
    if manifest.schema and manifest.schema not in known:
        raise BackupError(
            f"The backup's schema ({manifest.schema}) is newer than this Jigsaw knows"
            f" (latest {known[-1] if known else 'none'}): restore it with Jigsaw"
            f" {manifest.app_version} or later."
        )
