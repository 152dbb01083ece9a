"""Importing children's records from a CSV file (`jigsaw import children`, the admin page).

Idempotent by reference (whatever its case): a row whose reference is new creates the
record, and its lead professional (and `team`, if given) get a grant, as single creation
does; a row for an existing record changes what differs (the old values kept as a
revision, a new lead granted, as an edit does) or nothing. Every row is checked
(feeds/records/import_rows.py) before anything is written; one refused row refuses the
whole import. The writes, in one transaction: feeds/records/import_writes.py.
"""

from __future__ import annotations

from typing import Any

from feeds import audit
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.csv_import import (
    Progress,
    Report,
    check_all,
    check_reason,
    digest,
    no_progress,
    read_rows,
)
from feeds.import_audit import failure_recorded, outcome_of
from feeds.models import Professional
from feeds.organisation.admin import check_admin
from feeds.records.import_rows import COLUMNS, check_row, lookups_for, result_of
from feeds.records.import_writes import write_children


def _report_detail(report: Report, reason: str, dry_run: bool) -> dict[str, Any]:
    return {"counts": report.counts, "sha256": report.sha256, "reason": reason, "dry_run": dry_run}


async def do_import_children(
    actor: Professional,
    data: bytes,
    reason: object,
    ctx: AuditContext,
    *,
    dry_run: bool = False,
    progress: Progress = no_progress,
) -> Report:
    """Check every row of the file, then (unless `dry_run`, and only when no row is
    refused) apply them all in one transaction. Administrators only."""
    await check_admin(actor, AuditAction.IMPORT_CHILDREN, ctx)
    async with failure_recorded(AuditAction.IMPORT_CHILDREN, actor, ctx, data, dry_run):
        return await _import(actor, data, check_reason(reason), ctx, dry_run, progress)


async def _import(
    actor: Professional,
    data: bytes,
    why: str,
    ctx: AuditContext,
    dry_run: bool,
    progress: Progress,
) -> Report:
    rows, bad = read_rows(data, COLUMNS)
    report = Report("children", dry_run, list(bad), sha256=digest(data))
    lookups, seen = await lookups_for(rows), dict[str, int]()
    checked = await check_all(
        rows, lambda row: check_row(row, lookups, seen), result_of, report, progress
    )
    if dry_run or report.refused:
        detail = _report_detail(report, why, dry_run) | {"applied": False}
        outcome = outcome_of(report)
        await audit.record(
            AuditAction.IMPORT_CHILDREN, ctx, actor=actor, outcome=outcome, detail=detail
        )
        return report
    await write_children(actor, checked, _report_detail(report, why, False), ctx, progress)
    report.applied = True
    return report
