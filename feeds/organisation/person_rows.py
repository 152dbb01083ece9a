"""Checking the rows of a people import against the database: email, name, agency, role,
job title, @handle and teams, each with the rule the administrators' forms use, and what
each row would change of an existing account (matched by email)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from feeds.accounts.people import handle_base
from feeds.bulk_sql import select_in
from feeds.csv_import import Columns, Outcome, Row, RowResult
from feeds.errors import Invalid
from feeds.models import Agency, Professional, Role, Team, TeamMember
from feeds.organisation.admin import check_name
from feeds.organisation.people import check_role

COLUMNS = Columns(
    required=("email", "name", "agency"),
    optional=("handle", "role", "job_title", "teams", "manages"),
)
HANDLE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # what a mention can name
MAX_EMAIL, MAX_TITLE = 254, 200
ACCOUNT_FIELDS = ("name", "handle", "role", "agency_id", "job_title")


@dataclass(frozen=True)
class Account:
    id: int
    values: dict[str, Any]
    memberships: dict[int, bool]  # team id -> is_manager


@dataclass
class PersonRow:
    line: int
    email: str
    values: dict[str, Any]  # the account's fields the row sets
    teams: dict[int, bool]  # team id -> manages it
    existing: Account | None
    moved: list[str] = field(default_factory=list)
    join: list[tuple[int, bool]] = field(default_factory=list)  # new memberships
    flag: list[tuple[int, bool]] = field(default_factory=list)  # manager flag changes
    person_id: int = 0

    @property
    def changes(self) -> bool:
        return self.existing is None or bool(self.moved or self.join or self.flag)


@dataclass
class Lookups:
    accounts: dict[str, Account]
    handles: dict[str, int]  # taken handle -> its holder (-line: a new row of this file)
    agencies: dict[str, int]
    teams: dict[str, int]


_ACCOUNTS_SQL = (
    "SELECT id, email, name, handle, role, agency_id, job_title FROM professional "
    "WHERE email IN ({ids})"
)


async def lookups_for(rows: list[Row]) -> Lookups:
    emails = sorted({r.cells["email"].strip().lower() for r in rows})
    found = await select_in(_ACCOUNTS_SQL, emails)
    ids = [int(r[0]) for r in found]
    members: dict[int, dict[int, bool]] = {i: {} for i in ids}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for m in await TeamMember.filter(professional_id__in=chunk).values():
            members[m["professional_id"]][m["team_id"]] = bool(m["is_manager"])
    accounts = {
        str(r[1]): Account(int(r[0]), dict(zip(ACCOUNT_FIELDS, r[2:7], strict=True)), members[r[0]])
        for r in found
    }
    for account in accounts.values():
        account.values["role"] = Role(account.values["role"])
    handles = {h: int(i) for h, i in await Professional.all().values_list("handle", "id")}
    agencies = {str(a).lower(): int(i) for i, a in await Agency.all().values_list("id", "name")}
    teams = {str(t).lower(): int(i) for i, t in await Team.all().values_list("id", "name")}
    return Lookups(accounts, handles, agencies, teams)


def _email(row: Row, errors: list[str]) -> str:
    address = row.cells["email"].strip().lower()
    if (
        not 3 <= len(address) <= MAX_EMAIL
        or address.count("@") != 1
        or not address.isprintable()
        or any(ch.isspace() for ch in address)
    ):
        errors.append(f"email: {address or '(blank)'} is not an email address.")
    return address


def _optional(row: Row, name: str, errors: list[str]) -> str | None:
    """The cell's text, or None when the column is absent or the cell blank."""
    text = row.cells.get(name, "").strip()
    if len(text) > MAX_TITLE or not text.isprintable():
        errors.append(f"{name}: at most {MAX_TITLE} printable characters.")
    return text or None


def _fields(row: Row, lookups: Lookups, errors: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    try:
        values["name"] = check_name(row.cells["name"])
    except Invalid as error:
        errors.append(error.message)
    agency = row.cells["agency"].strip()
    if (agency_id := lookups.agencies.get(agency.lower())) is None:
        errors.append(f"agency: there is no agency called {agency or '(blank)'}.")
    values["agency_id"] = agency_id
    if (role := _optional(row, "role", errors)) is not None:
        try:
            values["role"] = check_role(role.lower())
        except Invalid as error:
            errors.append(error.message)
    if "job_title" in row.cells:  # a blank cell clears it
        values["job_title"] = _optional(row, "job_title", errors) or ""
    if (handle := _optional(row, "handle", errors)) is not None:
        handle = handle.lstrip("@").lower()
        if not HANDLE.fullmatch(handle):
            errors.append("handle: letters, digits and . _ - only (at most 64).")
        values["handle"] = handle
    return values


def _teams(row: Row, lookups: Lookups, errors: list[str]) -> dict[int, bool]:
    wanted: dict[int, bool] = {}
    for column, manages in (("teams", False), ("manages", True)):
        for name in (n.strip() for n in row.cells.get(column, "").split(";")):
            if not name:
                continue
            if (team := lookups.teams.get(name.lower())) is None:
                errors.append(f"{column}: there is no team called {name}.")
            else:
                wanted[team] = wanted.get(team, False) or manages
    return wanted


def _claim_handle(checked: PersonRow, lookups: Lookups) -> str:
    """Check or make the row's @handle unique; the reason it is refused, or ""."""
    owner = checked.existing.id if checked.existing else -checked.line  # a new row
    handle = checked.values.get("handle")
    if handle is None and checked.existing is None:
        base, n = handle_base(checked.values["name"]), 1
        handle = base
        while handle in lookups.handles:
            n += 1
            handle = f"{base}{n}"
        checked.values["handle"] = handle
    if handle is not None:
        if lookups.handles.get(handle, owner) != owner:
            return f"handle: @{handle} is taken by someone else."
        lookups.handles[handle] = owner
    return ""


def _compare(checked: PersonRow, actor: Professional) -> str:
    old = checked.existing
    if old is None:
        checked.values.setdefault("role", Role.PRACTITIONER)
        checked.values.setdefault("job_title", "")
        checked.join = sorted(checked.teams.items())
        return ""
    checked.moved = sorted(k for k, v in checked.values.items() if old.values[k] != v)
    if old.id == actor.id and "role" in checked.moved:
        return "role: you cannot change the role of your own account."
    checked.join = sorted((t, m) for t, m in checked.teams.items() if t not in old.memberships)
    checked.flag = sorted(
        (t, m) for t, m in checked.teams.items() if t in old.memberships and old.memberships[t] != m
    )
    return ""


def check_row(
    row: Row, lookups: Lookups, seen: dict[str, int], actor: Professional
) -> PersonRow | RowResult:
    """The checked row, or the row refused with every reason."""
    errors: list[str] = []
    email = _email(row, errors)
    values, teams = _fields(row, lookups, errors), _teams(row, lookups, errors)
    if email in seen:
        errors.append(f"email {email} is also on line {seen[email]}.")
    seen.setdefault(email, row.line)
    if errors:
        return RowResult(row.line, email[:64], Outcome.REFUSED, " ".join(errors))
    checked = PersonRow(row.line, email, values, teams, lookups.accounts.get(email))
    if refusal := _claim_handle(checked, lookups) or _compare(checked, actor):
        return RowResult(row.line, email, Outcome.REFUSED, refusal)
    return checked


def result_of(checked: PersonRow) -> RowResult:
    if checked.existing is None:
        return RowResult(checked.line, checked.email, Outcome.CREATED)
    if not checked.changes:
        return RowResult(checked.line, checked.email, Outcome.UNCHANGED)
    detail = checked.moved + (["teams"] if checked.join or checked.flag else [])
    return RowResult(checked.line, checked.email, Outcome.CHANGED, ", ".join(detail))
