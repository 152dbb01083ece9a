"""How every import attempt is audited, the failed ones too (`jigsaw import`, the admin page).

Each attempt leaves one record of its own action (import.children, import.people) saying
how it ended: applied or a dry run ("ok"); refused rows, a refused confirmation or an error
while writing ("failed", with the error); a non-administrator ("denied", by check_admin).
An applied import writes its record inside its one transaction, so when that transaction
rolls back the record goes with it: the failure is then recorded afresh, after it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from feeds import audit
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.csv_import import Report, digest
from feeds.errors import DomainError
from feeds.models import Professional

log = logging.getLogger("jigsaw.import")


def outcome_of(report: Report) -> AuditOutcome:
    """A dry run that found refused rows did its job; an import that found them did not."""
    return AuditOutcome.FAILED if report.refused and not report.dry_run else AuditOutcome.OK


async def record_failed(
    action: AuditAction,
    ctx: AuditContext,
    data: bytes,
    error: str,
    *,
    actor: Professional | None = None,
    actor_email: str = "",
    dry_run: bool = False,
    outcome: AuditOutcome = AuditOutcome.FAILED,
) -> None:
    """One record ("failed" unless told) for an attempt that imported nothing, with why
    (a message safe to show, never the database's own words)."""
    detail: dict[str, Any] = {"sha256": digest(data), "dry_run": dry_run, "applied": False}
    await audit.record(
        action,
        ctx,
        actor=actor,
        actor_email=actor_email,
        outcome=outcome,
        detail=detail | {"error": error},
    )


@asynccontextmanager
async def failure_recorded(
    action: AuditAction, actor: Professional, ctx: AuditContext, data: bytes, dry_run: bool
) -> AsyncIterator[None]:
    """Around an import after its permission check: an error recorded as "failed", then
    raised on unchanged."""
    try:
        yield
    except Exception as error:
        said = error.message if isinstance(error, DomainError) else "unexpected error"
        try:
            await record_failed(action, ctx, data, said, actor=actor, dry_run=dry_run)
        except Exception:  # the database may be what failed: the import's error goes on
            log.exception("An import's failure could not be audited.")
        raise
