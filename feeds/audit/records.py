"""The append-only audit trail: who did what to which child, when, from where."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.transactions import in_transaction

from feeds import raw_sql
from feeds.audit import chain
from feeds.clock import utcnow
from feeds.errors import Forbidden, NotFound
from feeds.models import AuditRecord, Professional


@dataclass(frozen=True)
class AuditContext:
    """Where a request came from; server/ builds it, feeds/ records it."""

    ip: str = ""
    request_id: str = ""


SYSTEM = AuditContext(ip="", request_id="system")


def _clean(text: str, limit: int) -> str:
    # Control characters could forge lines when the log is exported as text.
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


async def record(
    action: str,
    ctx: AuditContext,
    *,
    actor: Professional | None = None,
    actor_email: str = "",
    child_id: int | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one audit record, chained to the one before it (inside the caller's
    transaction, when there is one)."""
    entry = AuditRecord._init_from_db(
        id=None,
        at=utcnow(),
        action=action,
        actor_id=actor.id if actor else None,
        actor_email=_clean(actor.email if actor else actor_email, 254),
        child_id=child_id,
        outcome=outcome,
        ip=_clean(ctx.ip, 64),
        request_id=_clean(ctx.request_id, 64),
        detail=detail or {},
        hash="",
    )
    if isinstance(connections.get("default"), TransactionalDBClient):
        # In the caller's transaction: no savepoint (two round trips) around the append;
        # a failure aborts the caller's change with it.
        await _append(entry)
    else:
        async with in_transaction():
            await _append(entry)
    return entry


# Hand-written: every read and write is audited, and the ORM's model and insert
# building cost more than the statement.
_INSERT_SQL = (
    "INSERT INTO audit_record (at, actor_id, actor_email, action, child_id, outcome, ip, "
    "request_id, detail, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id"
)


async def _append(entry: AuditRecord) -> None:
    """Chain and write the record; the chain lock is held until the transaction ends."""
    await chain.lock_chain()
    previous = await chain.last_hash()
    entry.hash = chain.record_hash(previous, chain.fields_of(entry))
    detail = AuditRecord._meta.fields_map["detail"].to_db_value(entry.detail, entry)
    entry.id = await raw_sql.insert(
        _INSERT_SQL,
        *(entry.at, entry.actor_id, entry.actor_email, entry.action, entry.child_id),
        *(entry.outcome, entry.ip, entry.request_id, detail, entry.hash),
    )


@asynccontextmanager
async def refusal_recorded(
    action: str,
    ctx: AuditContext,
    actor: Professional,
    child_id: int | None,
    detail: dict[str, Any] | None = None,
) -> AsyncIterator[None]:
    """Around an authorisation check: when it refuses (NotFound, Forbidden), append one
    "denied" record and re-raise. The allowed path records its own outcome, so every
    decision leaves exactly one record."""
    try:
        yield
    except (NotFound, Forbidden):
        await record(action, ctx, actor=actor, child_id=child_id, outcome="denied", detail=detail)
        raise


async def records_for_child(child_id: int, limit: int = 100) -> list[AuditRecord]:
    """The most recent audit records about one child, newest first."""
    return await AuditRecord.filter(child_id=child_id).order_by("-id").limit(limit)
