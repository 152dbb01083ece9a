"""Archiving old months of the audit log out of the database (PostgreSQL: `jigsaw audit
archive --before 2025-01`). The audit log is never dropped by the app; this is the
operator's path for months nobody reads any more (docs/operations.md).

In order, refusing with a message (and changing nothing) at the first problem:
1. The months to archive are the monthly partitions of `audit_record` before `--before`
   (never the current month); none of their rows may be unsealed, and none of that time
   may sit in the default partition.
2. `verify_log` must find the whole log intact (chain, checkpoints, earlier anchors).
3. Their records must be exactly the next stretch of the chain (seqs after the previous
   anchor, no gaps, none interleaved with a later month), and sealed records must follow
   them (the chain must go on in the database: the seal trigger numbers from its max).
4. A signed checkpoint of the chain is appended (it covers the cut).
5. Each month is exported with COPY, in seq order, to `<dir>/audit_record_pYYYY_MM.csv`
   (never overwritten; fsynced), and its SHA-256 taken.
6. In one transaction: the signed anchor (last seq and hash, months, files and SHA-256s)
   is stored and the months are detached from `audit_record` and renamed
   `audit_archive_pYYYY_MM`. They stay in the database as plain tables until the operator
   drops them, once the files are on write-once storage.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tortoise.connection import get_connection
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from feeds import partitions, raw_sql
from feeds.audit import anchors, checkpoints
from feeds.audit.actions import AuditAction
from feeds.audit.chain import Head
from feeds.audit.keys import key_id
from feeds.audit.records import AuditContext, record
from feeds.audit.verify import verify_log
from feeds.clock import utcnow
from feeds.partitions import Month

POSTGRES_ONLY = (
    "Archiving the audit log is a PostgreSQL feature (it detaches monthly partitions);"
    " on SQLite the whole log stays in the database file."
)
TABLE = "audit_record"
CLI = AuditContext(ip="", request_id="cli")


class ArchiveRefused(Exception):
    """Nothing was changed: the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Archived:
    anchor: anchors.Anchor
    tables: list[str]  # the detached tables, now named audit_archive_pYYYY_MM


def archive_name(month: Month) -> str:
    return f"audit_archive_p{month.year:04d}_{month.month:02d}"


def export_name(month: Month) -> str:
    return f"{month.name(TABLE)}.csv"


async def _one(sql: str, *params: Any) -> tuple[Any, ...]:
    return tuple((await raw_sql.fetch(sql, *params))[0])


async def _months_to_archive(before: Month, now: datetime) -> list[Month]:
    if not await partitions.is_partitioned(TABLE):
        raise ArchiveRefused(POSTGRES_ONLY)
    if before > Month.of(now):
        raise ArchiveRefused(f"--before {before.year}-{before.month:02d} is after this month.")
    months = [m for m in await partitions.monthly_partitions(TABLE) if m < before]
    if not months:
        raise ArchiveRefused("No audit months before that are still in the database.")
    (stray,) = await _one(f'SELECT count(*) FROM "{TABLE}_default" WHERE at < $1', before.start)  # noqa: S608
    if stray:
        raise ArchiveRefused(
            f"{stray} records of those months are in {TABLE}_default: move them into their"
            " month first (docs/operations.md, Time partitions)."
        )
    (unsealed,) = await _one(
        f"SELECT count(*) FROM {TABLE} WHERE at < $1 AND seq IS NULL",  # noqa: S608
        before.start,
    )
    if unsealed:
        raise ArchiveRefused(
            f"{unsealed} records of those months are not sealed yet: let the app's sealer"
            " run, then try again."
        )
    return months


async def _stretch(before: Month, start: Head) -> tuple[int, int]:
    """The last seq and the row count of the months: exactly the chain's next stretch."""
    first, last, rows = await _one(
        f"SELECT min(seq), max(seq), count(*) FROM {TABLE} WHERE at < $1",  # noqa: S608
        before.start,
    )
    if not rows:
        raise ArchiveRefused("Those months hold no records: nothing to archive.")
    if first != start.seq + 1 or last - first + 1 != rows:
        raise ArchiveRefused(
            f"Records of those months are not one stretch of the chain after seq {start.seq}"
            f" (seqs {first} to {last}, {rows} records): records of a later month are"
            " interleaved; archive one more month."
        )
    (after,) = await _one(f"SELECT count(*) FROM {TABLE} WHERE seq > $1", last)  # noqa: S608
    if not after:
        raise ArchiveRefused(
            "No sealed record follows those months: the chain must go on in the database."
            " Try again once newer records are sealed."
        )
    return int(last), int(rows)


async def _export(month: Month, directory: Path) -> tuple[str, str]:
    """COPY one month, in seq order, to its own new file; its name and SHA-256."""
    path = directory / export_name(month)
    if path.exists():
        raise ArchiveRefused(f"{path} already exists: not overwritten (choose another --to).")
    query = f'SELECT * FROM "{month.name(TABLE)}" ORDER BY seq'  # noqa: S608
    connection: Any
    async with get_connection("default").acquire_connection() as connection:
        await connection.copy_from_query(query, output=str(path), format="csv", header=True)
    return path.name, await asyncio.to_thread(_synced_digest, path)


def _synced_digest(path: Path) -> str:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
        return hashlib.file_digest(handle, "sha256").hexdigest()


async def _detach(months: list[Month], signed: anchors.SignedAnchor, operator: str) -> list[str]:
    tables = []
    async with in_transaction() as client:
        await partitions.lock(client)
        await anchors.store(signed)
        anchor = signed.anchor
        detail = {"months": anchor.months, "seq": anchor.seq, "rows": anchor.rows}
        detail["files"] = anchor.files
        await record(AuditAction.AUDIT_ARCHIVE, CLI, actor_email=operator, detail=detail)
        for month in months:
            name = month.name(TABLE)
            await client.execute_script(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{name}"')
            await client.execute_script(f'ALTER TABLE "{name}" RENAME TO "{archive_name(month)}"')
            tables.append(archive_name(month))
    return tables


async def do_archive(
    before: Month,
    key: Ed25519PrivateKey,
    checkpoint_file: Path,
    directory: Path,
    operator: str = "",
) -> Archived:
    """Archive every audit month before `before` (see the module's docstring)."""
    now = utcnow()
    months = await _months_to_archive(before, now)
    report = await verify_log(key.public_key(), checkpoint_file)
    if not report.ok:
        raise ArchiveRefused("The audit log does not verify:\n" + "\n".join(report.lines()))
    start = report.archived[-1].anchor.head if report.archived else anchors.GENESIS_HEAD
    last, rows = await _stretch(before, start)
    checkpoints.append(checkpoint_file, await checkpoints.current(key))
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    files = dict([await _export(month, directory) for month in months])
    anchor = anchors.Anchor(
        seq=last,
        hash=str((await _one(f"SELECT hash FROM {TABLE} WHERE seq = $1", last))[0]),  # noqa: S608
        first_seq=start.seq + 1,
        previous_hash=start.hash,
        months=[f"{m.year:04d}-{m.month:02d}" for m in months],
        files=files,
        rows=rows,
        at=now.isoformat(timespec="seconds"),
        key=key_id(key.public_key()),
    )
    signed = anchors.sign(anchor, key)
    try:
        return Archived(anchor, await _detach(months, signed, operator))
    except OperationalError as error:  # e.g. the parent's lock not had within LOCK_TIMEOUT
        for name in files:
            await asyncio.to_thread((directory / name).unlink, missing_ok=True)
        raise ArchiveRefused(f"Nothing was archived ({error}); try again.") from None
