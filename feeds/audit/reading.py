"""Reading the audit log: per child for its lead professional and managers, the whole
log for administrators (filters and CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import datetime

from feeds import audit, lookup
from feeds.access.policy import Action, check_child_access
from feeds.access.redaction import AS_WRITTEN, Redactor
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import Forbidden, Invalid
from feeds.models import AuditRecord, Professional, Role

COLUMNS = ("id", "at", "actor_id", "actor_email", "action", "child_id", "outcome", "ip")
COLUMNS_CSV = (*COLUMNS, "request_id", "detail", "hash", "seq")


@dataclass(frozen=True)
class AuditFilter:
    actor: int | None = None
    child: int | None = None
    person: str | None = None  # an email address or part of a name (see feeds.lookup)
    child_ref: str | None = None  # a child's case reference
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = 100


def record_view(record: AuditRecord, redact: Redactor = AS_WRITTEN) -> dict[str, object]:
    """One record as a reader sees it: `redact` (identity.reasons_redactor) withholds the
    shielded names the reader may not see from the detail's free text (reasons)."""
    return {
        "id": record.id,
        "at": record.at.isoformat(),
        "actor_id": record.actor_id,
        "actor_email": record.actor_email,
        "action": record.action,
        "child_id": record.child_id,
        "outcome": record.outcome,
        "detail": redact.within(record.detail),
    }


async def do_read_child_audit(
    reader: Professional, child_id: int, ctx: AuditContext, limit: int = 100
) -> list[AuditRecord]:
    """Who viewed, searched, exported or changed what about this child: for its lead
    professional and managers with a grant (the policy's READ_AUDIT; never break-glass).
    Reading it is itself audited."""
    async with audit.refusal_recorded(AuditAction.AUDIT_READ, ctx, reader, child_id):
        child = await check_child_access(reader, child_id, Action.READ_AUDIT)
    await audit.record(AuditAction.AUDIT_READ, ctx, actor=reader, child_id=child.id)
    return await AuditRecord.filter(child_id=child.id).order_by("-id").limit(limit)


def _check_admin(reader: Professional) -> None:
    if reader.role != Role.ADMIN:
        raise Forbidden("Only administrators can read the whole audit log.")


async def do_search_audit(
    reader: Professional, found: AuditFilter, ctx: AuditContext
) -> list[AuditRecord]:
    """The whole log, filtered by person, child, action and time (administrators)."""
    async with audit.refusal_recorded(AuditAction.AUDIT_SEARCH, ctx, reader, found.child):
        _check_admin(reader)
    found = await _resolved(found)  # only now: the names are looked up for an administrator
    query = AuditRecord.all()
    if found.person:
        query = query.filter(actor_id__in=await lookup.people_named(found.person))
    if found.actor is not None:
        query = query.filter(actor_id=found.actor)
    if found.child is not None:
        query = query.filter(child_id=found.child)
    if found.action:
        query = query.filter(action=found.action)
    if found.since is not None:
        query = query.filter(at__gte=found.since)
    if found.until is not None:
        query = query.filter(at__lt=found.until)
    if found.before is not None:
        query = query.filter(id__lt=found.before)
    await audit.record(AuditAction.AUDIT_SEARCH, ctx, actor=reader, child_id=found.child)
    return await query.order_by("-id").limit(max(1, min(found.limit, 10_000)))


async def _resolved(found: AuditFilter) -> AuditFilter:
    """The child reference as a child id (Invalid when it names no child, or another
    child than an id also given)."""
    child = await lookup.child_by_reference(found.child_ref)
    if child is None:
        return found
    if found.child is not None and found.child != child:
        raise Invalid(
            "The child id and the child reference name different children.", field="child"
        )
    return replace(found, child=child)


def as_csv(records: list[AuditRecord], redact: Redactor = AS_WRITTEN) -> str:
    """CSV for spreadsheets: formula-looking cells are prefixed so they stay text; the
    detail as `record_view` shows it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS_CSV)
    for r in records:
        row = [r.id, r.at.isoformat(), r.actor_id, r.actor_email, r.action, r.child_id]
        row += [r.outcome, r.ip, r.request_id, redact.within(r.detail), r.hash, r.seq]
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
