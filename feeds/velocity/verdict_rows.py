"""The sweep's reads and writes of stored verdicts (`velocity_state`), hand-written.

At 100,000 children the ORM cost more than the detector: model building for every row
read, and `bulk_update`'s one CASE per column per row (36 s for a full write pass). Here a
chunk is one read (child joined with its verdict) and at most two writes, each a single
statement on PostgreSQL (arrays through `unnest`) and one prepared statement on SQLite.
Child ids are integers from our own tables, inlined like `activity_days.load_days` does.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from feeds.velocity.tallies import moment


# Named tuples, not frozen dataclasses: a sweep builds one of each per child, and a frozen
# dataclass's __init__ costs three times as much.
class StoredVerdict(NamedTuple):
    flagged: bool
    score: float
    digest: str | None  # of what the board shows (see `shown_digest`); None before any
    inputs: str | None = None  # of what it was computed from (feeds/velocity/unchanged.py)


@dataclass
class ChunkState:
    """What a recompute needs to know about a chunk of children before assessing them."""

    created: dict[int, datetime]  # record creation, per child
    stored: dict[int, StoredVerdict]  # last verdict; children never assessed are absent

    @property
    def flags(self) -> dict[int, bool]:
        return {child_id: row.flagged for child_id, row in self.stored.items()}


class VerdictRow(NamedTuple):
    """One verdict to store: the board's JSON, its score and digest, and the child's
    last post."""

    child_id: int
    shown: dict[str, Any]
    score: float
    last_post_at: datetime | None
    digest: str
    inputs: str | None = None  # see StoredVerdict


def shown_digest(shown: tuple[Any, ...], last_post_at: datetime | None) -> str:
    """A digest of what the board shows, stable across processes: marshal format 2 (no
    object references, so equal values give equal bytes) costs a sixth of json.dumps. A new
    Python may marshal differently; that costs one extra write of each verdict, no more."""
    packed = marshal.dumps((shown, last_post_at.timestamp() if last_post_at else None), 2)
    return hashlib.blake2b(packed, digest_size=16).hexdigest()


def as_columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows as one list per column: on PostgreSQL a chunk's rows then go in one statement
    (`unnest($1::int[], $2::text[], ...)`) instead of one per row."""
    return [list(column) for column in zip(*rows, strict=True)]


def _child_of(row: VerdictRow) -> int:
    return row.child_id


def _json(shown: dict[str, Any]) -> str:
    return orjson.dumps(shown).decode()  # a sixth of json.dumps' time; same JSON


def _client() -> tuple[BaseDBAsyncClient, bool]:
    connection = get_connection("default")
    return connection, connection.capabilities.dialect == "postgres"


def _inlined(ids: Collection[int]) -> str:
    return ",".join(str(int(c)) for c in ids)


_READ_SQL = (
    "SELECT c.id, c.created_at, v.flagged, v.score, v.shown_digest, v.inputs_digest "
    "FROM child c LEFT JOIN velocity_state v ON v.child_id = c.id WHERE c.id IN ({ids})"
)


async def read_chunk(child_ids: Collection[int]) -> ChunkState:
    """Each child's creation time and stored verdict, in one query."""
    state = ChunkState({}, {})
    if not child_ids:
        return state
    connection, _ = _client()
    _, rows = await connection.execute_query(_READ_SQL.format(ids=_inlined(child_ids)))
    for child_id, created, flagged, score, digest, inputs in rows:
        key = int(child_id)
        created_at = moment(created)
        if created_at is not None:
            state.created[key] = created_at
        if flagged is not None:
            state.stored[key] = StoredVerdict(bool(flagged), float(score), digest, inputs)
    return state


_ENSURE_SQL = {
    "postgres": "INSERT INTO velocity_state (child_id, flagged, score, assessment, updated_at) "
    "SELECT unnest($1::int[]), FALSE, 0, '{}', $2 ON CONFLICT (child_id) DO NOTHING",
    "sqlite": "INSERT INTO velocity_state (child_id, flagged, score, assessment, updated_at) "
    "VALUES (?, 0, 0, '{}', ?) ON CONFLICT (child_id) DO NOTHING",
}


async def ensure_rows(child_ids: Sequence[int], now: datetime) -> None:
    """A verdict row (unflagged, score 0) for each of these children that has none, so a
    flip can compare-and-set it; a row another worker made first is left alone."""
    if not child_ids:
        return
    connection, postgres = _client()
    child_ids = sorted(child_ids)  # rows locked in one order by every worker: no deadlock
    if postgres:
        await connection.execute_query(_ENSURE_SQL["postgres"], [child_ids, now])
    else:
        await connection.execute_many(_ENSURE_SQL["sqlite"], [[c, now] for c in child_ids])


_LOCK_SQL = (
    "SELECT 1 FROM velocity_state WHERE child_id = ANY($1::int[]) ORDER BY child_id FOR UPDATE"
)
_WRITE_SQL = {
    "postgres": "UPDATE velocity_state AS v SET assessment = d.shown::jsonb, score = d.score, "
    "last_post_at = d.last_post_at, shown_digest = d.digest, inputs_digest = d.inputs, "
    "assessed_at = $7, updated_at = $7 FROM unnest($1::int[], $2::text[], $3::float8[], "
    "$4::timestamptz[], $5::text[], $6::text[]) "
    "AS d(child_id, shown, score, last_post_at, digest, inputs) WHERE v.child_id = d.child_id",
    "sqlite": "UPDATE velocity_state SET assessment = ?, score = ?, last_post_at = ?, "
    "shown_digest = ?, inputs_digest = ?, assessed_at = ?, updated_at = ? WHERE child_id = ?",
}


async def write_verdicts(rows: Sequence[VerdictRow], now: datetime) -> None:
    """Store these verdicts (the flag is written only by a flip's compare-and-set)."""
    if not rows:
        return
    connection, postgres = _client()
    rows = sorted(rows, key=_child_of)
    if postgres:
        columns: list[Any] = as_columns(
            [
                (r.child_id, _json(r.shown), r.score, r.last_post_at, r.digest, r.inputs)
                for r in rows
            ]
        )
        columns.append(now)
        # Two workers often store the same children (each recomputes after every post):
        # lock the rows in child order first, or the UPDATE's plan may take them in heap
        # order, which moves as rows are rewritten (the load test saw deadlocks).
        async with in_transaction() as held:
            await held.execute_query(_LOCK_SQL, [columns[0]])
            await held.execute_query(_WRITE_SQL["postgres"], columns)
        return
    values = [
        [_json(r.shown), r.score, r.last_post_at, r.digest, r.inputs, now, now, r.child_id]
        for r in rows
    ]
    await connection.execute_many(_WRITE_SQL["sqlite"], values)
