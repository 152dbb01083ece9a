"""The audit log's hash chain: each record's hash covers its own fields and the hash of
the record before it, so changing, removing or reordering any row breaks the chain at
exactly that row. `jigsaw audit verify` walks it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from feeds.models import AuditRecord

GENESIS = "0" * 64
CHAIN_LOCK = 7_406_211  # pg_advisory_xact_lock key: one writer extends the chain at a time


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(previous: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the record's fields in a canonical JSON form."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{previous}\n{canonical}".encode()).hexdigest()


def fields_of(record: AuditRecord) -> dict[str, Any]:
    """What the hash covers: everything but the id and the hash itself."""
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


async def lock_chain() -> None:
    """Serialise chain extension on PostgreSQL until the transaction ends (SQLite has
    one writer already)."""
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})")


async def last_hash() -> str:
    # Hand-written: every audited request asks, and the ORM's query building cost more
    # than the query.
    _, rows = await connections.get("default").execute_query(
        "SELECT hash FROM audit_record ORDER BY id DESC LIMIT 1"
    )
    return str(rows[0][0]) if rows and rows[0][0] else GENESIS


@dataclass(frozen=True)
class Verdict:
    checked: int
    first_bad_id: int | None  # the first row whose stored hash does not match
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


async def _in_order(batch: int = 1000) -> AsyncIterator[AuditRecord]:
    cursor = 0
    while True:
        rows = await AuditRecord.filter(id__gt=cursor).order_by("id").limit(batch)
        if not rows:
            return
        for row in rows:
            yield row
        cursor = rows[-1].id


async def verify_chain() -> Verdict:
    """Recompute the chain from the first sealed record (rows written before the chain
    existed carry no hash); name the first row that does not match."""
    previous, checked, sealing = GENESIS, 0, False
    async for row in _in_order():
        sealing = sealing or bool(row.hash)
        if not sealing:
            continue  # written before migration 0006 added the chain
        expected = record_hash(previous, fields_of(row))
        if row.hash != expected:
            reason = "unsealed (no hash)" if not row.hash else "altered, or a row before it"
            return Verdict(checked, row.id, reason)
        previous, checked = row.hash, checked + 1
    return Verdict(checked, None)
