"""The one rule about a closed case, and a merged record: read-only (posting, editing,
granting refused with a Conflict that says so). Every place that changes a child asks here."""

from __future__ import annotations

from feeds import audit
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.errors import Conflict
from feeds.models import Child, Professional

CLOSED = (
    "This child's case is closed, so the record is read-only. "
    "A manager or an administrator can reopen it."
)


MERGED = (
    "This record was merged into another child's record, so it is read-only. "
    "Work on that record, or ask an administrator to undo the merge."
)


def is_closed(child: Child) -> bool:
    return child.closed_at is not None


async def check_open(
    child: Child, action: AuditAction, ctx: AuditContext, actor: Professional | None
) -> None:
    """Conflict when the case is closed; the refusal is audited like any other decision."""
    if is_closed(child):
        await audit.record(action, ctx, actor=actor, child_id=child.id, outcome=AuditOutcome.CLOSED)
        raise Conflict(CLOSED)
    if child.merged_into_id is not None:  # only administrators reach a merged record
        await audit.record(action, ctx, actor=actor, child_id=child.id, outcome=AuditOutcome.MERGED)
        raise Conflict(MERGED)
