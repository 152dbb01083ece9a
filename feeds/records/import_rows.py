"""Checking the rows of a children's import against the database: each field with the
record's own rules (feeds/records/values.py), the lead by email, the team by name, and
what each row would change of an existing record (matched by reference, any case)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from feeds.access.policy import active_grant_q
from feeds.bulk_sql import select_in
from feeds.clock import utcnow
from feeds.csv_import import Columns, Outcome, Row, RowResult
from feeds.errors import Invalid
from feeds.models import Child, Grant, Professional, Role, Team
from feeds.raw_sql import python_value
from feeds.records.values import CHECKS

COLUMNS = Columns(
    required=("reference", "display_name", "date_of_birth", "lead_email"),
    optional=("school", "area", "team"),
)
TEXT_FIELDS = ("reference", "display_name", "date_of_birth", "school", "area")


@dataclass(frozen=True)
class Lead:
    id: int
    agency_id: int
    role: Role
    is_active: bool


@dataclass(frozen=True)
class Existing:
    id: int
    values: dict[str, Any]
    closed: bool
    merged: bool = False  # merged into another record (feeds/records/merging.py)


@dataclass
class ChildRow:
    """A checked row and what applying it writes."""

    line: int
    values: dict[str, Any]  # the record's fields the row sets
    lead: Lead
    team: tuple[int, int] | None  # (team id, its agency id)
    existing: Existing | None
    moved: list[str] = field(default_factory=list)
    grant_lead: bool = False
    grant_team: bool = False
    child_id: int = 0  # the record's id, once known (new ones: once written)

    @property
    def changes(self) -> bool:
        return self.existing is None or bool(self.moved) or self.grant_team


@dataclass
class Lookups:
    leads: dict[str, Lead]
    teams: dict[str, tuple[int, int]]
    existing: dict[str, Existing]
    granted: set[tuple[int, int | None, int | None]]  # (child, professional, team), active


_EXISTING_SQL = (
    "SELECT id, display_name, reference, date_of_birth, school, area, lead_professional_id, "
    "closed_at, merged_into_id FROM child WHERE lower(reference) IN ({ids})"
)


def _existing(row: Any) -> Existing:
    names = ("display_name", "reference", "date_of_birth", "school", "area")
    values = dict(zip(names, row[1:6], strict=True))
    values["date_of_birth"] = python_value(Child, "date_of_birth", values["date_of_birth"])
    values["lead_professional_id"] = row[6]
    return Existing(int(row[0]), values, row[7] is not None, row[8] is not None)


async def lookups_for(rows: list[Row]) -> Lookups:
    keys = sorted({r.cells["reference"].strip().lower() for r in rows})
    found = {str(r[2]).lower(): _existing(r) for r in await select_in(_EXISTING_SQL, keys)}
    emails = sorted({r.cells["lead_email"].strip().lower() for r in rows})
    leads: dict[str, Lead] = {}
    for start in range(0, len(emails), 1000):
        people = await Professional.filter(email__in=emails[start : start + 1000]).values(
            "id", "email", "agency_id", "role", "is_active"
        )
        for p in people:
            leads[p["email"]] = Lead(p["id"], p["agency_id"], Role(p["role"]), p["is_active"])
    teams = {
        str(t["name"]).lower(): (int(t["id"]), int(t["agency_id"]))
        for t in await Team.all().values("id", "name", "agency_id")
    }
    ids, granted = sorted(e.id for e in found.values()), set()
    for start in range(0, len(ids), 1000):
        held = Grant.filter(active_grant_q(utcnow()), child_id__in=ids[start : start + 1000])
        granted |= set(await held.values_list("child_id", "professional_id", "team_id"))
    return Lookups(leads, teams, found, granted)


def _check_fields(row: Row, errors: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name in row.cells:
            try:
                values[name] = CHECKS[name](row.cells[name])
            except Invalid as error:
                errors.append(error.message)
    return values


def _check_lead(row: Row, lookups: Lookups, errors: list[str]) -> Lead | None:
    email = row.cells["lead_email"].strip().lower()
    lead = lookups.leads.get(email)
    if lead is None or not lead.is_active:
        errors.append(f"lead_email: no active professional has the email {email or '(blank)'}.")
        return None
    if lead.role == Role.ADMIN:
        errors.append("lead_email: an administrator cannot be a lead professional.")
        return None
    return lead


def _check_team(row: Row, lookups: Lookups, errors: list[str]) -> tuple[int, int] | None:
    name = row.cells.get("team", "").strip()
    if not name:
        return None
    team = lookups.teams.get(name.lower())
    if team is None:
        errors.append(f"team: there is no team called {name}.")
    return team


def _compare(checked: ChildRow, lookups: Lookups) -> str:
    """Fill in what applying the row writes; the reason it is refused, or ""."""
    old, team = checked.existing, checked.team
    if old is None:
        checked.values.setdefault("school", "")
        checked.values.setdefault("area", "")
        checked.grant_lead, checked.grant_team = True, team is not None
        return ""
    checked.moved = sorted(k for k, v in checked.values.items() if old.values[k] != v)
    lead_id = checked.values["lead_professional_id"]
    checked.grant_lead = (
        "lead_professional_id" in checked.moved and (old.id, lead_id, None) not in lookups.granted
    )
    checked.grant_team = team is not None and (old.id, None, team[0]) not in lookups.granted
    if old.merged and checked.changes:
        return "this record was merged into another: change that record instead."
    if old.closed and checked.changes:
        return "the case is closed: reopen it before changing its record."
    return ""


def check_row(row: Row, lookups: Lookups, seen: dict[str, int]) -> ChildRow | RowResult:
    """The checked row, or the row refused with every reason."""
    errors: list[str] = []
    values = _check_fields(row, errors)
    lead, team = _check_lead(row, lookups, errors), _check_team(row, lookups, errors)
    key = row.cells["reference"].strip().lower()
    if key and key in seen:
        errors.append(f"reference {row.cells['reference'].strip()} is also on line {seen[key]}.")
    seen.setdefault(key, row.line)
    reference = row.cells["reference"].strip()[:64]
    if errors or lead is None:
        return RowResult(row.line, reference, Outcome.REFUSED, " ".join(errors))
    values["lead_professional_id"] = lead.id
    checked = ChildRow(row.line, values, lead, team, lookups.existing.get(key))
    if refusal := _compare(checked, lookups):
        return RowResult(row.line, reference, Outcome.REFUSED, refusal)
    return checked


def result_of(checked: ChildRow) -> RowResult:
    reference = str(checked.values["reference"])
    if checked.existing is None:
        return RowResult(checked.line, reference, Outcome.CREATED)
    if not checked.changes:
        return RowResult(checked.line, reference, Outcome.UNCHANGED)
    detail = checked.moved + (["team access"] if checked.grant_team else [])
    return RowResult(checked.line, reference, Outcome.CHANGED, ", ".join(detail))
