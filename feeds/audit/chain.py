"""The audit log's hash chain, and sealing rows into it.

Requests write audit rows unsealed (`seq` and `hash` NULL) without any lock. The sealer
(feeds/audit/sealer.py, one elected worker) later gives each committed unsealed row the
next `seq` and `hash = sha256(hash at seq - 1, canonical JSON of the row's fields)`. So
the chain order is the order rows became visible to the sealer, not id order: on
PostgreSQL a lower id can commit after a higher one, and is simply sealed later. Rows are
picked by `seq IS NULL`, never by an id cursor, so a late commit is never skipped.

The database enforces the shape (migration 0012): a row is sealed once, with exactly the
next seq, and nothing else about it can change; two sealers racing cannot fork the chain
(the second one's seq is refused and its transaction fails: on PostgreSQL, where the
partitioned table cannot hold a unique index on seq alone, the trigger serialises sealers
on an advisory lock and checks the seq is the next one, migration 0027).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from feeds import raw_sql
from feeds.db import PLAIN_INDEX_SCAN
from feeds.models import AuditRecord

GENESIS = "0" * 64
SEAL_BATCH = 500


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(previous: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the record's fields in a canonical JSON form."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{previous}\n{canonical}".encode()).hexdigest()


def fields_of(record: AuditRecord) -> dict[str, Any]:
    """What the hash covers: everything but the id, seq and the hash itself (the seq is
    covered by position: each hash includes the one before it)."""
    return {
        "at": _moment(record.at),
        "actor_id": record.actor_id,
        "actor_email": record.actor_email,
        "action": record.action,
        "child_id": record.child_id,
        "outcome": record.outcome,
        "ip": record.ip,
        "request_id": record.request_id,
        "detail": record.detail,
    }


@dataclass(frozen=True)
class Head:
    """The newest sealed record: its seq (0 for an empty chain) and hash."""

    seq: int
    hash: str


# The newest seq by max(), then its row: `ORDER BY seq DESC LIMIT 1` on the partitioned
# log was planned from the statistics, and statistics taken while the month's rows were
# unsealed ("seq is always NULL") made it sort every sealed row of the month instead of
# reading one index entry (tests/trust/test_audit_sealer.py). max() is read from the seq
# index's end in each partition whatever the statistics say, as the seal trigger's is.
HEAD_SQL = "SELECT seq, hash FROM audit_record WHERE seq = (SELECT max(seq) FROM audit_record)"


async def head() -> Head:
    rows = await raw_sql.fetch(HEAD_SQL)
    return Head(int(rows[0][0]), str(rows[0][1])) if rows else Head(0, GENESIS)


async def hash_at(seq: int) -> str | None:
    """The stored hash of the record at `seq`, if there is one."""
    rows = await raw_sql.fetch("SELECT hash FROM audit_record WHERE seq = $1", seq)
    return str(rows[0][0]) if rows else None


def _unsealed_sql(batch: int) -> str:
    # Built from the model's column names and an int: nothing from outside.
    columns, limit = raw_sql.columns(AuditRecord, "a"), int(batch)
    where = "WHERE a.seq IS NULL ORDER BY a.id"
    return f"SELECT {columns} FROM audit_record a {where} LIMIT {limit}"  # noqa: S608


# `at` too: on PostgreSQL the log is partitioned by month on it (migration 0027), so the
# update goes straight to the row's partition instead of probing every month's index.
_SEAL_SQL = "UPDATE audit_record SET seq = $1, hash = $2 WHERE id = $3 AND at = $4 AND seq IS NULL"


class SealRace(RuntimeError):
    """Another sealer sealed a row first: this batch is rolled back and tried again."""


# PostgreSQL runs `_SEAL_SQL` for the whole batch in one call, row by row in order
# (migration 0032): one round trip per batch instead of one per audited request.
_SEAL_BATCH_SQL = "SELECT audit_seal($1::bigint[], $2::text[], $3::bigint[], $4::timestamptz[])"


@dataclass(frozen=True)
class _Seal:
    seq: int
    hash: str
    id: int
    at: Any  # exactly as stored (SQLite's text, PostgreSQL's timestamptz)


def _postgres() -> bool:
    return bool(get_connection("default").capabilities.dialect == "postgres")


async def _store(seals: list[_Seal]) -> None:
    """Give each row its seq and hash, in order; SealRace at the first row another sealer
    took (the append-only trigger refuses a seq that is not the next one)."""
    if _postgres():
        columns = ([s.seq for s in seals], [s.hash for s in seals], [s.id for s in seals])
        [(sealed,)] = await raw_sql.fetch(_SEAL_BATCH_SQL, *columns, [s.at for s in seals])
        if sealed != len(seals):
            raise SealRace(f"audit record {seals[sealed].id} was sealed by another sealer")
        return
    for seal in seals:
        if await raw_sql.execute(_SEAL_SQL, seal.seq, seal.hash, seal.id, seal.at) != 1:
            raise SealRace(f"audit record {seal.id} was sealed by another sealer")


async def read_unsealed(batch: int) -> list[raw_sql.Row]:
    """The oldest unsealed rows (at most `batch`), inside the caller's transaction."""
    if _postgres():  # sealing leaves each row's unsealed version in the seq IS NULL index
        await raw_sql.fetch(PLAIN_INDEX_SCAN)
    return await raw_sql.fetch(_unsealed_sql(int(batch)))


async def _seal_batch(batch: int) -> int:
    async with in_transaction():
        at = await head()
        rows = await read_unsealed(batch)
        seq, previous = at.seq, at.hash
        at_column = raw_sql.column_names(AuditRecord).index("at")
        seals: list[_Seal] = []
        for row in rows:
            record = raw_sql.from_row(AuditRecord, row)
            seq, previous = seq + 1, record_hash(previous, fields_of(record))
            seals.append(_Seal(seq, previous, record.id, row[at_column]))
        if seals:
            await _store(seals)
        return len(rows)


async def seal_pending(
    batch: int = SEAL_BATCH, keep_going: Callable[[], bool] = lambda: True
) -> int:
    """Seal every committed unsealed row, oldest id first; returns how many. One
    transaction per batch, so a long backlog does not hold the database for long;
    `keep_going` is asked between batches (a sealer stops before its lease runs out)."""
    total = 0
    while True:
        sealed = await _seal_batch(batch)
        total += sealed
        if sealed < batch or not keep_going():
            return total
