"""The manager's board: visible children ranked by attention velocity, and period
comparisons for one child or the whole board. Every read is audited.

Who sees a board: managers (Role.MANAGER), over exactly the children the access
policy lets them see. Practitioners and admins are refused (Forbidden): ranking a
caseload by attention is a supervisory tool, and a practitioner sees each child's
velocity and comparison on that child's own page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Literal

from feeds import audit
from feeds.access import identity
from feeds.access.policy import Action, active_grant_q, check_child_access, visible_child_ids
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden, Invalid
from feeds.models import Child, Grant, Professional, Role, Team
from feeds.network.worry_episodes import open_episodes
from feeds.network.worry_rule import reason
from feeds.velocity.board_rows import NOT_QUIET as NOT_QUIET
from feeds.velocity.board_rows import UNASSESSED, RankKey, board_rows, rank_key
from feeds.velocity.board_rows import BoardRow as BoardRow
from feeds.velocity.board_rows import ChildRef as ChildRef
from feeds.velocity.board_rows import Quiet as Quiet
from feeds.velocity.comparisons import ChildCompared, Comparisons
from feeds.velocity.detector import Assessment, PeriodComparison, side_by_side
from feeds.velocity.periods import Tallies, compared_by_child, tallied_by_child, together
from feeds.velocity.trends import Trend, describe
from feeds.velocity.verdicts import (
    assess_children,
    do_recompute_velocity,
    stored_flags,
)

Status = Literal["all", "flagged"]
MAX_PERIOD = timedelta(days=366)
EARLIEST = timedelta(days=3 * 366)  # how far back a comparison may reach


@dataclass(frozen=True)
class Board:
    rows: list[BoardRow]  # highest score first
    children: int  # visible children, before the status filter
    flagged: int
    at: datetime
    comparison: PeriodComparison | None = None  # periods A and B, when asked for
    gone_quiet: int = 0  # rows whose silence verdict is flagged
    changes: list[ChildChange] = field(default_factory=list)  # per child, when comparing


@dataclass(frozen=True)
class ChildChange:
    """One child's own comparison of periods A and B on a compared board."""

    child: ChildRef
    comparison: PeriodComparison
    trend: Trend


CHANGE_ORDERS = ("attention", "worry", "name")
ChangeOrder = Literal["attention", "worry", "name"]


def check_change_order(order: str) -> ChangeOrder:
    if order not in CHANGE_ORDERS:
        raise Invalid(f"sort must be one of: {', '.join(CHANGE_ORDERS)}.", field="sort")
    return order  # type: ignore[return-value]  # checked against the literal's values


def sort_changes(changes: Sequence[ChildChange], order: ChangeOrder) -> list[ChildChange]:
    """Biggest rise first (attention: all posts; worry: hunches and concerns), or by name."""

    def key(change: ChildChange) -> tuple[int, int, tuple[bool, str, int]]:
        t, name = change.trend, identity.name_key(change.child.id, change.child.display_name)
        if order == "name":
            return (0, 0, name)
        first, second = (
            (t.attention_change, t.worry_change)
            if order == "attention"
            else (t.worry_change, t.attention_change)
        )
        return (-first, -second, name)

    return sorted(changes, key=key)


@dataclass(frozen=True)
class Period:
    """A half-open period [start, end) of whole UTC days (both ends at midnight)."""

    start: datetime
    end: datetime


def check_manager(professional: Professional) -> None:
    if professional.role != Role.MANAGER:
        raise Forbidden("The board is for managers; your children are on your home page.")


def check_status(status: str) -> Status:
    if status not in ("all", "flagged"):
        raise Invalid("status must be 'all' or 'flagged'.", field="status")
    return "flagged" if status == "flagged" else "all"


def rank(rows: Sequence[BoardRow]) -> list[BoardRow]:
    """Flagged first, then gone quiet, then by score, then by recent posts; ties by the name
    as shown for stable pages (rank again after `as_seen_by`: a label's place must say
    nothing of the name behind it)."""

    return sorted(rows, key=rank_key)


PAGE_ROWS = 50  # rows a board page shows first: a manager reads the top, then asks for more
MAX_ROWS = 2000  # the most one answer carries


def first_rows(
    groups: Sequence[Sequence[BoardRow]], limit: int
) -> tuple[list[list[BoardRow]], int]:
    """The ranked groups up to `limit` rows (a household is never split), and how many
    rows are left for "more"."""
    kept: list[list[BoardRow]] = []
    shown = 0
    for group in groups:
        if shown and shown + len(group) > limit:
            break
        kept.append(list(group))
        shown += len(group)
    return kept, sum(len(group) for group in groups) - shown


def group_by_household(
    rows: Sequence[BoardRow], household_of: dict[int, int]
) -> list[list[BoardRow]]:
    """The ranked rows in groups: the children of one household together, each group where
    its highest-ranked child is; a child in no household is a group of its own."""
    groups: dict[object, list[BoardRow]] = {}
    for row in rows:
        key = household_of.get(row.child.id, ("child", row.child.id))
        groups.setdefault(key, []).append(row)
    return list(groups.values())


async def build_board(child_ids: set[int], now: datetime, team_id: int | None = None) -> Board:
    """Rank these children by their stored verdicts (kept fresh by the velocity watcher
    within seconds of each post, and by its periodic sweep): a read, not a recompute."""
    if team_id is not None:
        child_ids = child_ids & await team_child_ids(team_id, now)
    rows = await board_rows(child_ids)
    unassessed = {row.child.id for _, row in rows if row.assessment is UNASSESSED.assessment}
    if unassessed:  # new since the last sweep: assess them now, once
        await do_recompute_velocity(unassessed, now)
        rows = await board_rows(child_ids, fresh=True)
    # Sorting 2,000 rows is CPU: in a thread, so that the event loop keeps serving
    # practitioners' requests meanwhile (it takes the GIL back every few ms).
    ranked = await _with_worries(await asyncio.to_thread(_ranked, rows), now)
    flagged_count = sum(r.assessment.flagged for r in ranked)
    quiet_count = sum(r.quiet.flagged for r in ranked)
    return Board(ranked, len(ranked), flagged_count, now, gone_quiet=quiet_count)


def _ranked(rows: Sequence[tuple[RankKey, BoardRow]]) -> list[BoardRow]:
    return [row for _, row in sorted(rows, key=itemgetter(0))]  # `rank`, keys made once


async def as_seen_by(viewer: Professional, board: Board) -> Board:
    """The board with each shielded child the viewer may not identify shown by its label,
    with no reference (feeds/access/identity.py)."""
    hidden = await identity.unidentified(viewer, {r.child.id for r in board.rows if r.shielded})
    if not hidden:
        return board
    rows = [
        replace(row, child=_label_ref(row.child.id)) if row.child.id in hidden else row
        for row in board.rows
    ]
    return replace(board, rows=rank(rows))  # ties by the name as shown


def _label_ref(child_id: int) -> ChildRef:
    return ChildRef(child_id, identity.label(child_id), "")


async def _with_worries(rows: list[BoardRow], now: datetime) -> list[BoardRow]:
    """Rows of children with an open shared-worry episode carry it as a reason."""
    worried = await open_episodes({row.child.id for row in rows}, now)
    return [
        replace(row, shared_worry=reason(worried[row.child.id])) if row.child.id in worried else row
        for row in rows
    ]


async def manager_teams(manager: Professional) -> list[Team]:
    """The teams a manager may filter their board by: the ones they belong to."""
    return await Team.filter(members__professional_id=manager.id).order_by("name", "id")


async def team_child_ids(team_id: int, now: datetime) -> set[int]:
    """Children the team holds an active grant for."""
    rows = await Grant.filter(active_grant_q(now), team_id=team_id).values("child_id")
    return {int(row["child_id"]) for row in rows}


async def check_team(manager: Professional, team: object) -> int | None:
    """None for every team; otherwise the id of one of the manager's own teams."""
    if team in (None, ""):
        return None
    if not isinstance(team, int | str) or not str(team).isdigit():
        raise Invalid("team must be a team id.", field="team")
    if int(team) not in {t.id for t in await manager_teams(manager)}:
        raise Invalid("team must be one of your own teams.", field="team")
    return int(team)


async def read_board(
    manager: Professional,
    ctx: AuditContext,
    *,
    status: str = "all",
    team: object = None,
    now: datetime | None = None,
    periods: tuple[Period, Period] | None = None,
    child_id: int | None = None,
    order: str = "attention",
    recent: Comparisons | None = None,
) -> Board:
    """The manager's board (optionally one of their teams) and, given `periods` (A, B),
    their comparison over the board or over its child `child_id` (children's comparisons
    kept in `recent` until their next event). One decision, audited once as "board.read"
    (refusals too)."""
    chosen = check_status(status)
    ordered = check_change_order(order)
    moment = now or utcnow()
    if periods is not None:
        check_periods(*periods, moment)
    async with audit.refusal_recorded(AuditAction.BOARD_READ, ctx, manager, child_id):
        check_manager(manager)
        if child_id is not None:
            await check_child_access(manager, child_id, Action.VIEW)
    team_id = await check_team(manager, team)
    visible = await visible_child_ids(manager, moment)
    board = await as_seen_by(manager, await build_board(visible, moment, team_id))
    if chosen == "flagged":
        board = Board([r for r in board.rows if r.assessment.flagged], *_counts(board))
    detail = {"children": board.children, "flagged": board.flagged, "status": chosen}
    if periods is not None:
        # The comparison covers the board as shown (team and status filters applied).
        over = {child_id} if child_id is not None else {row.child.id for row in board.rows}
        each = child_id is None
        comparison, changes = await compare_board(board.rows, over, *periods, each, ordered, recent)
        board = replace(board, comparison=comparison, changes=changes)
        detail["compared"] = len(over)
    await audit.record(
        AuditAction.BOARD_READ,
        ctx,
        actor=manager,
        child_id=child_id,
        detail={**detail, "team": team_id},
    )
    return board


def _counts(board: Board) -> tuple[int, int, datetime, None, int]:
    return board.children, board.flagged, board.at, None, board.gone_quiet


def check_periods(a: Period, b: Period, now: datetime) -> None:
    """Each period must be non-empty, at most a year long and within the last three years.

    Errors name the API parameter that starts the period (`from` for B, `compare_from` for A).
    """
    for name, param, period in (("later", "from", b), ("earlier", "compare_from", a)):
        if period.end <= period.start:
            raise Invalid(f"The {name} period ends before it starts.", field=param)
        if period.end - period.start > MAX_PERIOD:
            raise Invalid(f"The {name} period is longer than a year.", field=param)
        if period.start < now - EARLIEST:
            raise Invalid(f"The {name} period starts more than three years ago.", field=param)


async def compare(child_ids: set[int], a: Period, b: Period) -> PeriodComparison:
    """Periods A and B (and B - A) over these children's posts together, from the daily
    tallies."""
    overall, _ = await compared_by_child(child_ids, (a.start, a.end), (b.start, b.end))
    return side_by_side(*overall)


async def compare_board(
    rows: Sequence[BoardRow],
    over: set[int],
    a: Period,
    b: Period,
    each: bool,
    order: ChangeOrder = "attention",
    recent: Comparisons | None = None,
) -> tuple[PeriodComparison, list[ChildChange]]:
    """Periods A and B over the children `over` together and, with `each`, each board row's
    child compared with itself (sorted by `order`): one read of the tallies for both, for
    the children whose comparison of these periods `recent` does not keep."""
    spans = (a.start, a.end, b.start, b.end)
    compared = await (recent or NOT_KEPT).get(over, spans, lambda ids: _compared(ids, a, b))
    return await asyncio.to_thread(_board_changes, rows, compared, each, order)


NOT_KEPT = Comparisons(ttl=0)


async def _compared(ids: set[int], a: Period, b: Period) -> dict[int, ChildCompared]:
    tallied = await tallied_by_child(ids, (a.start, a.end), (b.start, b.end))
    return await asyncio.to_thread(_judged, tallied)


def _judged(tallied: dict[int, Tallies]) -> dict[int, ChildCompared]:
    """Each child's comparison and trend (CPU for 2,000 children: run in a thread)."""
    found: dict[int, ChildCompared] = {}
    for child_id, (a, b) in tallied.items():
        comparison = side_by_side(a.stats(), b.stats())
        found[child_id] = ChildCompared((a, b), comparison, describe(comparison))
    return found


def _board_changes(
    rows: Sequence[BoardRow], compared: dict[int, ChildCompared], each: bool, order: ChangeOrder
) -> tuple[PeriodComparison, list[ChildChange]]:
    """The compared children's totals (their authors and agencies united, not summed) and,
    with `each`, each row's own change, sorted by `order` (CPU: run in a thread)."""
    a = together(found.tallies[0] for found in compared.values()).stats()
    b = together(found.tallies[1] for found in compared.values()).stats()
    if not each:
        return side_by_side(a, b), []
    changes = [
        ChildChange(row.child, compared[row.child.id].comparison, compared[row.child.id].trend)
        for row in rows
    ]
    return side_by_side(a, b), sort_changes(changes, order)


@dataclass(frozen=True)
class ChildVelocity:
    child: Child
    assessment: Assessment
    comparison: PeriodComparison
    a: Period
    b: Period


async def read_child_velocity(
    professional: Professional, child_id: int, a: Period, b: Period, ctx: AuditContext
) -> ChildVelocity:
    """One child's verdict and a comparison of two periods; anyone who may view the child."""
    now = utcnow()
    check_periods(a, b, now)
    try:
        child = await check_child_access(professional, child_id, Action.VIEW)
    except Exception:
        await audit.record(
            AuditAction.VELOCITY_READ,
            ctx,
            actor=professional,
            child_id=child_id,
            outcome=AuditOutcome.DENIED,
        )
        raise
    previous = await stored_flags({child.id})
    verdict = (await assess_children({child.id}, now, previous))[child.id]
    comparison = await compare({child.id}, a, b)
    await audit.record(AuditAction.VELOCITY_READ, ctx, actor=professional, child_id=child.id)
    shown = await identity.seen_child(professional, child)  # a shielded child: its label
    return ChildVelocity(shown, verdict, comparison, a, b)
