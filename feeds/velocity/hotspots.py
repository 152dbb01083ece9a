"""Hotspots: where attention clusters across a manager's children over the last 12 weeks.

Rows are groups of the children the manager may see (by team holding a grant, by school,
by area), or the agencies that raised worries about them; columns are weeks. Each cell
counts hunches and concerns (WORRY_KINDS), read from the daily tallies and summed in the
database; each row also counts its flagged and gone-quiet children and says whether
worry rose or fell over the last four weeks against the four before. Managers only, over
exactly the children the access policy lets them see; every read is audited.

A shielded child seen only by its label (a team grant, a manager) is counted in the row
"Not shown" when grouped by school, area or household: its cell would say where it is, or
whose family it is in (docs/trust.md). By team and by agency it is counted as any child.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

import orjson
from tortoise.connection import get_connection

from feeds import audit, raw_sql, replica
from feeds.access import identity
from feeds.access.policy import visible_child_ids
from feeds.access.rules import active_grant_sql
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Invalid
from feeds.kinds import WORRY_KINDS
from feeds.models import Child, Professional
from feeds.velocity.board import check_manager
from feeds.velocity.tallies import chunked
from feeds.velocity.trends import Direction, direction

Dimension = Literal["team", "agency", "school", "area", "household"]
DIMENSIONS: tuple[Dimension, ...] = ("team", "agency", "school", "area", "household")
WEEKS = 12
TREND_WEEKS = 4  # the last four weeks against the four before
NOT_RECORDED = "Not recorded"
NOT_SHOWN = "Not shown"  # shielded children the reader sees only by label (school, area, household)


@dataclass(frozen=True)
class HotspotRow:
    label: str
    children: int  # children in the group (agency: children it raised worries about)
    flagged: int  # of those, flagged on the board now
    quiet: int  # of those, gone quiet now (agency: children where it has gone quiet)
    weeks: list[int]  # hunches and concerns per week, oldest first
    trend: Direction  # worry over the last four weeks against the four before

    @property
    def worries(self) -> int:
        return sum(self.weeks)


@dataclass(frozen=True)
class Hotspots:
    by: Dimension
    week_starts: list[date]  # the first day of each column, oldest first
    rows: list[HotspotRow]  # most worries first
    children: int  # children the manager may see


def check_dimension(by: str) -> Dimension:
    if by not in DIMENSIONS:
        raise Invalid(f"by must be one of: {', '.join(DIMENSIONS)}.", field="by")
    return by


# --- reads ---------------------------------------------------------------------------------

_WORRIES = " + ".join(
    f"COALESCE(CAST(d.by_kind ->> '{kind.value}' AS INTEGER), 0)" for kind in sorted(WORRY_KINDS)
)
_WEEK = {  # whole weeks back from $1 (today): 0 is the last seven days
    "postgres": "(CAST($1 AS DATE) - d.day) / 7",
    "sqlite": "CAST((julianday($1) - julianday(d.day)) / 7 AS INTEGER)",
}
_EACH_AGENCY = {
    "postgres": "jsonb_each_text(d.concern_agencies::jsonb)",
    "sqlite": "json_each(d.concern_agencies)",
}
_CHILD_WEEKS_SQL = (
    "SELECT d.child_id, {week}, SUM({worries}) FROM child_activity_day d "
    "WHERE d.child_id IN ({ids}) AND d.day > $2 AND d.day <= $1 AND d.posts > 0 "
    "GROUP BY 1, 2"
)
_AGENCY_WEEKS_SQL = (
    "SELECT k.key, {week}, SUM(CAST(k.value AS INTEGER)), COUNT(DISTINCT d.child_id) "
    "FROM child_activity_day d, {each} k "
    "WHERE d.child_id IN ({ids}) AND d.day > $2 AND d.day <= $1 GROUP BY 1, 2"
)
_AGENCY_CHILDREN_SQL = (
    "SELECT DISTINCT k.key, d.child_id FROM child_activity_day d, {each} k "
    "WHERE d.child_id IN ({ids}) AND d.day > $2 AND d.day <= $1"
)
_CHILDREN_SQL = (
    "SELECT c.id, c.school, c.area, v.flagged, s.flagged, s.silent_agencies FROM child c "
    "LEFT JOIN velocity_state v ON v.child_id = c.id "
    "LEFT JOIN silence_state s ON s.child_id = c.id WHERE c.id IN ({ids})"
)
_LIVE = active_grant_sql("g", "$1")
# A household is named by the children in it whom the reader may see (ids limited to
# those), never by one they may not: its label is built from visible names only.
_HOUSEHOLDS_SQL = (
    "SELECT m.child_id, m.household_id, c.display_name FROM household_member m "
    "JOIN child c ON c.id = m.child_id WHERE m.child_id IN ({ids})"
)
_TEAMS_SQL = (
    'SELECT g.child_id, t.name FROM "grant" g JOIN team t ON t.id = g.team_id '  # noqa: S608
    f"WHERE g.child_id IN ({{ids}}) AND {_LIVE}"
)


def _dialect() -> str:
    return "postgres" if get_connection("default").capabilities.dialect == "postgres" else "sqlite"


def _day(value: date) -> Any:
    return value if _dialect() == "postgres" else value.isoformat()


async def _each_chunk(template: str, ids: set[int], *params: Any, **parts: str) -> list[Any]:
    rows: list[Any] = []
    for chunk in chunked(ids):
        sql = template.format(ids=",".join(str(int(c)) for c in chunk), **parts)
        rows += await replica.read_rows(raw_sql.placeholders(sql, _dialect()), params)
    return rows


@dataclass(frozen=True)
class _Child:
    school: str
    area: str
    flagged: bool
    quiet: bool
    silent_agencies: frozenset[str]
    label_only: bool = False  # shielded, and the reader sees only its label


def _agencies(value: Any) -> frozenset[str]:
    found = orjson.loads(value) if isinstance(value, str | bytes) else value
    return frozenset(str(a) for a in found or [])


async def _children(ids: set[int], reader: Professional) -> dict[int, _Child]:
    """Each child's place and state; a shielded child the reader sees only by label is
    placed nowhere (NOT_SHOWN), whatever its record says. Who is shielded is read on the
    primary, as access is (the rows may come from a standby that lags)."""
    rows = await _each_chunk(_CHILDREN_SQL, ids)
    shielded = {int(r["id"]) for r in await Child.filter(shielded_at__isnull=False).values("id")}
    found = {
        int(i): _Child(
            str(school or "").strip() or NOT_RECORDED,
            str(area or "").strip() or NOT_RECORDED,
            bool(flagged),
            bool(quiet),
            _agencies(silent) if quiet else frozenset(),
        )
        for i, school, area, flagged, quiet, silent in rows
    }
    unseen = await identity.unidentified(reader, shielded & set(found))
    for child_id in unseen:
        found[child_id] = replace(
            found[child_id], school=NOT_SHOWN, area=NOT_SHOWN, label_only=True
        )
    return found


async def _child_weeks(ids: set[int], today: date) -> dict[int, list[int]]:
    week = _WEEK[_dialect()]
    since = today - timedelta(days=7 * WEEKS)
    sql = _CHILD_WEEKS_SQL.replace("{week}", week).replace("{worries}", _WORRIES)
    found: dict[int, list[int]] = defaultdict(lambda: [0] * WEEKS)
    for child_id, back, count in await _each_chunk(sql, ids, _day(today), _day(since)):
        if 0 <= int(back) < WEEKS:
            found[int(child_id)][WEEKS - 1 - int(back)] += int(count or 0)
    return found


async def _groups_of(
    by: Dimension, ids: set[int], children: dict[int, _Child], reader: Professional
) -> dict[int, list[str]]:
    """Each child's groups: a child is in one school and one area, and in every team
    that holds a live grant for it."""
    if by == "school":
        return {i: [c.school] for i, c in children.items()}
    if by == "area":
        return {i: [c.area] for i, c in children.items()}
    if by == "household":
        unseen = {i for i, c in children.items() if c.label_only}
        return await _households_of(ids - unseen, reader) | {i: [NOT_SHOWN] for i in unseen}
    teams: dict[int, list[str]] = defaultdict(list)
    for child_id, name in await _each_chunk(_TEAMS_SQL, ids, utcnow()):
        teams[int(child_id)].append(str(name))
    return teams


async def _households_of(ids: set[int], reader: Professional) -> dict[int, list[str]]:
    """Each visible child in a household, labelled by its visible members' names as the
    reader may see them (a shielded child's label unless they hold a direct grant)."""
    rows = await _each_chunk(_HOUSEHOLDS_SQL, ids)
    known = await identity.identified_ids(reader, {int(r[0]) for r in rows})
    names: dict[int, list[str]] = defaultdict(list)
    for child_id, household_id, name in rows:
        shown = str(name) if int(child_id) in known else identity.label(int(child_id))
        names[int(household_id)].append(shown)
    return {
        int(child_id): ["Household: " + ", ".join(sorted(names[int(household_id)]))]
        for child_id, household_id, _name in rows
    }


def _row(
    label: str, members: Iterable[int], weeks: list[int], children: dict[int, _Child]
) -> HotspotRow:
    group = [children[i] for i in members if i in children]
    return HotspotRow(
        label=label,
        children=len(group),
        flagged=sum(c.flagged for c in group),
        quiet=sum(c.quiet for c in group),
        weeks=weeks,
        trend=_trend(weeks),
    )


def _trend(weeks: list[int]) -> Direction:
    return direction(sum(weeks[-2 * TREND_WEEKS : -TREND_WEEKS]), sum(weeks[-TREND_WEEKS:]))


async def _group_rows(
    by: Dimension, ids: set[int], today: date, children: dict[int, _Child], reader: Professional
) -> list[HotspotRow]:
    per_child = await _child_weeks(ids, today)
    members: dict[str, set[int]] = defaultdict(set)
    for child_id, labels in (await _groups_of(by, ids, children, reader)).items():
        for label in labels:
            members[label].add(child_id)
    rows = []
    for label, group in members.items():
        weeks = [sum(col) for col in zip(*(per_child[i] for i in group), strict=True)]
        rows.append(_row(label, group, weeks, children))
    return rows


async def _agency_rows(ids: set[int], today: date, children: dict[int, _Child]) -> list[HotspotRow]:
    dialect, since = _dialect(), today - timedelta(days=7 * WEEKS)
    parts = {"week": _WEEK[dialect], "each": _EACH_AGENCY[dialect]}
    params = (_day(today), _day(since))
    weeks: dict[str, list[int]] = defaultdict(lambda: [0] * WEEKS)
    for agency, back, count, _n in await _each_chunk(_AGENCY_WEEKS_SQL, ids, *params, **parts):
        if 0 <= int(back) < WEEKS:
            weeks[str(agency)][WEEKS - 1 - int(back)] += int(count or 0)
    worried: dict[str, set[int]] = defaultdict(set)
    for agency, child_id in await _each_chunk(_AGENCY_CHILDREN_SQL, ids, *params, **parts):
        worried[str(agency)].add(int(child_id))
    quiet: dict[str, int] = defaultdict(int)
    for child in children.values():
        for agency in child.silent_agencies:
            quiet[agency] += 1
    rows = []
    for agency in set(weeks) | set(quiet):
        row = _row(agency, worried[agency], weeks[agency], children)
        rows.append(replace(row, quiet=quiet[agency]))
    return rows


def _ranked(rows: list[HotspotRow]) -> list[HotspotRow]:
    return sorted(rows, key=lambda r: (-r.worries, -r.flagged, -r.quiet, r.label))


async def build_hotspots(
    ids: set[int], by: Dimension, today: date, reader: Professional
) -> Hotspots:
    """Hotspots over these children (already limited to what the reader may see)."""
    children = await _children(ids, reader)
    if by == "agency":
        rows = await _agency_rows(ids, today, children)
    else:
        rows = await _group_rows(by, ids, today, children, reader)
    first = today - timedelta(days=7 * WEEKS - 1)
    starts = [first + timedelta(days=7 * n) for n in range(WEEKS)]
    return Hotspots(by, starts, _ranked(rows), len(ids))


async def read_hotspots(
    manager: Professional, by: str, ctx: AuditContext, now: datetime | None = None
) -> Hotspots:
    """A manager's hotspots by team, agency, school or area (audited, refusals too)."""
    chosen = check_dimension(by)
    moment = now or utcnow()
    async with audit.refusal_recorded(AuditAction.HOTSPOTS_READ, ctx, manager, None):
        check_manager(manager)
    ids = await visible_child_ids(manager, moment)
    found = await build_hotspots(ids, chosen, moment.date(), manager)
    detail = {"by": chosen, "children": len(ids), "rows": len(found.rows)}
    await audit.record(AuditAction.HOTSPOTS_READ, ctx, actor=manager, detail=detail)
    return found
