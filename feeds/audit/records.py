"""The append-only audit trail: who did what to which child, when, from where."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from feeds import bulk_sql, raw_sql
from feeds.audit.actions import CHILD_READS, AuditAction, AuditOutcome
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
    if text.isprintable():  # nearly always: no need to look at each character
        return text[:limit]
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


async def record(
    action: AuditAction,
    ctx: AuditContext,
    *,
    actor: Professional | None = None,
    actor_email: str = "",
    child_id: int | None = None,
    outcome: AuditOutcome = AuditOutcome.OK,
    detail: dict[str, Any] | None = None,
    shielded: bool | None = None,
) -> AuditRecord:
    """Append one audit record, unsealed, in the caller's transaction when there is one.
    No lock: the sealer (feeds/audit/sealer.py) chains it within about a second. A read
    of a shielded child's record is marked {"shielded": true}; a caller that has just read
    the child passes `shielded` and saves the look-up."""
    marked = action in CHILD_READS and outcome == AuditOutcome.OK
    if shielded is None and marked and child_id is not None:
        shielded = await _shielded(child_id)
    if marked and shielded:
        detail = {**(detail or {}), "shielded": True}
    entry = raw_sql.saved(
        AuditRecord,
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
        hash=None,
        seq=None,
    )
    detail_value = raw_sql.db_value(AuditRecord, "detail", entry.detail)
    entry.id = await raw_sql.insert(
        _INSERT_SQL,
        *(entry.at, entry.actor_id, entry.actor_email, entry.action, entry.child_id),
        *(entry.outcome, entry.ip, entry.request_id, detail_value),
    )
    return entry


_SHIELDED_SQL = "SELECT 1 FROM child WHERE id = $1 AND shielded_at IS NOT NULL"


async def _shielded(child_id: int) -> bool:
    return bool(await raw_sql.fetch(_SHIELDED_SQL, child_id))


# Hand-written: every read and write is audited, and the ORM's model and insert
# building cost more than the statement.
_INSERT_SQL = (
    "INSERT INTO audit_record (at, actor_id, actor_email, action, child_id, outcome, ip, "
    "request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
)


@asynccontextmanager
async def refusal_recorded(
    action: AuditAction,
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
        await record(
            action, ctx, actor=actor, child_id=child_id, outcome=AuditOutcome.DENIED, detail=detail
        )
        raise


async def records_for_child(child_id: int, limit: int = 100) -> list[AuditRecord]:
    """The most recent audit records about one child, newest first."""
    return await AuditRecord.filter(child_id=child_id).order_by("-id").limit(limit)


async def record_many(
    action: AuditAction,
    ctx: AuditContext,
    actor: Professional,
    entries: Sequence[tuple[int | None, dict[str, Any]]],
) -> None:
    """Append one record per (child_id, detail) in `entries`, in few statements (bulk
    imports: one record per child or person); inside the caller's transaction."""
    at, email = utcnow(), _clean(actor.email, 254)
    ip, request_id = _clean(ctx.ip, 64), _clean(ctx.request_id, 64)
    ok = AuditOutcome.OK.value
    rows = [
        (at, actor.id, email, action.value, child_id, ok, ip, request_id, _detail(detail))
        for child_id, detail in entries
    ]
    await bulk_sql.insert_rows("audit_record", _COLUMNS, rows)


def _detail(detail: dict[str, Any]) -> Any:
    return raw_sql.db_value(AuditRecord, "detail", detail)


_COLUMNS = (
    "at",
    "actor_id",
    "actor_email",
    "action",
    "child_id",
    "outcome",
    "ip",
    "request_id",
    "detail",
)
