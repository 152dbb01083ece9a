"""Importing people's accounts from a CSV file (`jigsaw import people`, the admin page).

Idempotent by email: a new email creates an account in an existing agency, with no usable
password (`feeds.accounts.passwords.unusable_password_hash`: they cannot sign in until a
password is set for them or single sign-on knows them); a known email changes what differs.
Teams listed are joined (`manages`: as their manager); an import never takes anyone out of
a team or switches an account off: those stay deliberate acts on the people pages.
Every row is checked first (feeds/organisation/person_rows.py); one refused row refuses the
import; the writes are one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from feeds import audit, events
from feeds.accounts.passwords import unusable_password_hash
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext, record_many
from feeds.bulk_sql import fresh_statistics, insert_rows, update_rows
from feeds.clock import utcnow
from feeds.csv_import import (
    Progress,
    Report,
    check_all,
    check_reason,
    digest,
    no_progress,
    read_rows,
)
from feeds.errors import Conflict
from feeds.import_audit import failure_recorded, outcome_of
from feeds.models import Professional
from feeds.organisation.admin import check_admin
from feeds.organisation.people import ACCOUNT_CHANGED
from feeds.organisation.person_rows import COLUMNS, PersonRow, check_row, lookups_for, result_of

WRITING = "Writing (one transaction)"
CHANGED_WHILE_IMPORTING = (
    "Someone added one of these emails or @handles while the file was being imported: "
    "nothing was imported. Run the import again."
)
_UPDATE_SQL = (
    "UPDATE professional SET name = $1, handle = $2, role = $3, agency_id = $4, "
    "job_title = $5 WHERE id = $6"
)
_FIELDS = ("name", "handle", "role", "agency_id", "job_title")


def _account(values: dict[str, Any]) -> list[Any]:
    return [str(values[f]) if f == "role" else values[f] for f in _FIELDS]


async def _create(new: list[PersonRow], now: datetime) -> None:
    columns = ("email", *_FIELDS, "password_hash", "is_active", "failed_logins", "created_at")
    rows = [[r.email, *_account(r.values), unusable_password_hash(), True, 0, now] for r in new]
    made = await insert_rows("professional", columns, rows, returning=("id", "email"))
    ids = {str(found["email"]): int(found["id"]) for found in made}
    for row in new:
        row.person_id = ids[row.email]


async def _update(changed: list[PersonRow]) -> None:
    rows = []
    for row in changed:
        assert row.existing is not None
        new = row.existing.values | row.values
        rows.append([*_account(new), row.person_id])
    await update_rows(_UPDATE_SQL, rows)


async def _memberships(rows: list[PersonRow]) -> None:
    joins = [(team, row.person_id, manages) for row in rows for team, manages in row.join]
    await insert_rows("team_member", ("team_id", "professional_id", "is_manager"), joins)
    flags = [(manages, row.person_id, team) for row in rows for team, manages in row.flag]
    await update_rows(
        "UPDATE team_member SET is_manager = $1 WHERE professional_id = $2 AND team_id = $3",
        flags,
    )


def _detail(row: PersonRow, summary_id: int, reason: str) -> dict[str, Any]:
    detail: dict[str, Any] = {"import_id": summary_id, "line": row.line, "reason": reason}
    detail |= {"professional_id": row.person_id, "teams_joined": [t for t, _ in row.join]}
    if row.existing is None:
        return detail | {"change": "created", "role": str(row.values["role"])}
    before = {name: str(row.existing.values[name]) for name in row.moved}
    return detail | {"change": "changed", "fields": row.moved, "before": before}


async def _events(rows: list[PersonRow]) -> None:
    """A role change or a new team tells the person's sockets (ids only), as the people
    and team pages do."""
    out: list[tuple[str, dict[str, Any], int | None, int | None]] = []
    for row in rows:
        if row.existing is not None and "role" in row.moved:
            payload = {"change": "role_changed", "professional_id": row.person_id}
            out.append((ACCOUNT_CHANGED, payload, None, row.person_id))
        for team, _ in row.join:
            payload = {"change": "joined_team", "team_id": team, "professional_id": row.person_id}
            out.append((events.GRANT_CHANGED, payload, None, row.person_id))
    await events.emit_many(out)


async def _write(
    actor: Professional, rows: list[PersonRow], summary: dict[str, Any], ctx: AuditContext
) -> None:
    for row in rows:
        if row.existing is not None:
            row.person_id = row.existing.id
    try:
        async with events.transaction():
            record = await audit.record(AuditAction.IMPORT_PEOPLE, ctx, actor=actor, detail=summary)
            await _create([r for r in rows if r.existing is None], utcnow())
            await _update([r for r in rows if r.existing is not None and r.moved])
            await _memberships(rows)
            entries = [(None, _detail(r, int(record.id), summary["reason"])) for r in rows]
            await record_many(AuditAction.PERSON_IMPORT, ctx, actor, entries)
            await _events(rows)
    except IntegrityError:  # someone added one of these emails or handles meanwhile
        raise Conflict(CHANGED_WHILE_IMPORTING, field="file") from None


async def do_import_people(
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
    await check_admin(actor, AuditAction.IMPORT_PEOPLE, ctx)
    async with failure_recorded(AuditAction.IMPORT_PEOPLE, actor, ctx, data, dry_run):
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
    report = Report("people", dry_run, list(bad), sha256=digest(data))
    lookups, seen = await lookups_for(rows), dict[str, int]()
    checked = await check_all(
        rows, lambda row: check_row(row, lookups, seen, actor), result_of, report, progress
    )
    summary: dict[str, Any] = {"counts": report.counts, "sha256": report.sha256, "reason": why}
    applied = not dry_run and not report.refused
    summary |= {"dry_run": dry_run, "applied": applied}
    if not applied:
        outcome = outcome_of(report)
        await audit.record(
            AuditAction.IMPORT_PEOPLE, ctx, actor=actor, outcome=outcome, detail=summary
        )
        return report
    progress(WRITING, 0, 1)
    await _write(actor, checked, summary, ctx)
    await fresh_statistics("professional", "team_member")
    progress(WRITING, 1, 1)
    report.applied = True
    return report
