"""The writes of a children's import, all in one transaction (all or nothing), in bulk:
new records, revisions and changes of existing ones, the grants creation and editing make,
the agencies now around each child, one audit record per child plus the import's own,
and the events that tell open sockets (ids only).

Bulk, and so quieter than one creation at a time: an agency arriving with an imported
grant is recorded in the child's feed (dated now) without a notification to the lead, as
for the demo data; one grant event per person or team member, not per child.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from feeds import audit, events
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext, record_many
from feeds.bulk_sql import fresh_statistics, insert_rows, update_rows
from feeds.clock import utcnow
from feeds.csv_import import Progress
from feeds.errors import Conflict
from feeds.models import Professional, TeamMember
from feeds.network.models import EntryKind
from feeds.records.children import CHILD_CHANGED, FIELDS
from feeds.records.import_rows import ChildRow

WRITING = "Writing (one transaction)"
CHANGED_WHILE_IMPORTING = (
    "A child with one of these references was added while the file was being imported: "
    "nothing was imported. Run the import again."
)
_CHILD_COLUMNS = ("display_name", "reference", "date_of_birth", "school", "area")
_UPDATE_SQL = (
    "UPDATE child SET display_name = $1, reference = $2, date_of_birth = $3, school = $4, "
    "area = $5, lead_professional_id = $6 WHERE id = $7"
)
Grants = list[tuple[int, int | None, int | None, int]]  # (child, professional, team, agency)


async def _insert_children(new: list[ChildRow], now: datetime) -> None:
    columns = (*_CHILD_COLUMNS, "lead_professional_id", "created_at")
    rows = [[r.values[name] for name in _CHILD_COLUMNS] + [r.lead.id, now] for r in new]
    made = await insert_rows("child", columns, rows, returning=("id", "reference"))
    ids = {str(found["reference"]).lower(): int(found["id"]) for found in made}
    for row in new:
        row.child_id = ids[str(row.values["reference"]).lower()]


async def _revise(changed: list[ChildRow], actor: Professional, now: datetime) -> None:
    """Keep each changed record's old values as a revision, then change it."""
    columns = ("child_id", "change", "changed_at", "changed_by_id", *FIELDS, "closed_at")
    revisions, updates = [], []
    for row in changed:
        assert row.existing is not None
        old = row.existing.values
        revisions.append([row.existing.id, "import", now, actor.id, *(old[f] for f in FIELDS)])
        revisions[-1].append(None)
        new = old | row.values
        updates.append([*(new[name] for name in _CHILD_COLUMNS), new["lead_professional_id"]])
        updates[-1].append(row.existing.id)
    await insert_rows("child_revision", columns, revisions)
    await update_rows(_UPDATE_SQL, updates)


def _wanted(rows: list[ChildRow]) -> Grants:
    wanted: Grants = []
    for row in rows:
        if row.grant_lead:
            wanted.append((row.child_id, row.lead.id, None, row.lead.agency_id))
        if row.grant_team and row.team is not None:
            wanted.append((row.child_id, None, row.team[0], row.team[1]))
    return wanted


async def _grant(rows: list[ChildRow], actor: Professional, now: datetime) -> Grants:
    """Grant each new lead and named team; the agencies they bring go into the feeds."""
    wanted = _wanted(rows)
    columns = ("child_id", "professional_id", "team_id", "granted_by_id", "created_at")
    await insert_rows("grant", columns, [(c, p, t, actor.id, now) for c, p, t, _ in wanted])
    entries = {(child, agency) for child, _, _, agency in wanted}
    kind = EntryKind.AGENCY_INVOLVED.value
    await insert_rows(
        "child_event",
        ("child_id", "kind", "agency_id", "actor_id", "created_at"),
        [(child, kind, agency, actor.id, now) for child, agency in sorted(entries)],
        on_conflict_nothing=True,
    )
    return wanted


Entries = list[tuple[int | None, Any]]


def _audit_entries(rows: list[ChildRow], summary_id: int, reason: str) -> Entries:
    entries: Entries = []
    for row in rows:
        detail: dict[str, Any] = {"import_id": summary_id, "line": row.line, "reason": reason}
        detail["change"] = "created" if row.existing is None else "changed"
        if row.existing is not None:
            detail["fields"] = row.moved
        detail["lead_granted"], detail["team_granted"] = row.grant_lead, row.grant_team
        entries.append((row.child_id, detail))
    return entries


async def _events(rows: list[ChildRow], grants: Grants) -> None:
    """`child.changed` for each changed record; one `grant.changed` per person whose
    access grew (team grants: each member), so their open sockets re-read it."""
    out: list[tuple[str, dict[str, Any], int | None, int | None]] = [
        (CHILD_CHANGED, {"child_id": r.child_id, "change": "edited"}, r.child_id, None)
        for r in rows
        if r.existing is not None and r.moved
    ]
    people = {p for _, p, _, _ in grants if p is not None}
    teams = sorted({t for _, _, t, _ in grants if t is not None})
    members = await TeamMember.filter(team_id__in=teams).values("professional_id")
    for person in sorted(people | {int(m["professional_id"]) for m in members}):
        payload = {"change": "granted", "professional_id": person, "team_id": None}
        out.append((events.GRANT_CHANGED, payload, None, person))
    await events.emit_many(out)


async def write_children(
    actor: Professional,
    rows: list[ChildRow],
    summary: dict[str, Any],
    ctx: AuditContext,
    progress: Progress,
) -> None:
    """Apply checked rows (each creates or changes a record) in one transaction."""
    now = utcnow()
    new = [row for row in rows if row.existing is None]
    for row in rows:
        if row.existing is not None:
            row.child_id = row.existing.id
    try:
        async with events.transaction():
            record = await audit.record(
                AuditAction.IMPORT_CHILDREN, ctx, actor=actor, detail=summary | {"applied": True}
            )
            progress(WRITING, 0, 5)
            await _insert_children(new, now)
            progress(WRITING, 1, 5)
            await _revise([r for r in rows if r.existing is not None and r.moved], actor, now)
            progress(WRITING, 2, 5)
            grants = await _grant(rows, actor, now)
            progress(WRITING, 3, 5)
            entries = _audit_entries(rows, int(record.id), str(summary["reason"]))
            await record_many(AuditAction.CHILD_IMPORT, ctx, actor, entries)
            progress(WRITING, 4, 5)
            await _events(rows, grants)
        progress(WRITING, 5, 5)
    except IntegrityError:  # a concurrent creation took a reference first
        raise Conflict(CHANGED_WHILE_IMPORTING, field="file") from None
    await fresh_statistics("child", "grant", "child_event", "child_revision")
