"""The manager's board: visible children ranked by attention velocity, and period
comparisons for one child or the whole board. Every read is audited.

Who sees a board: managers (Role.MANAGER), over exactly the children the access
policy lets them see. Practitioners and admins are refused (Forbidden): ranking a
caseload by attention is a supervisory tool, and a practitioner sees each child's
velocity and comparison on that child's own page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from feeds import audit
from feeds.access import Action, check_child_access, visible_child_ids
from feeds.activity import load_activity
from feeds.audit import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden, Invalid
from feeds.models import Child, Professional, Role
from feeds.velocity import ActivityEvent, Assessment, PeriodComparison, compare_periods
from feeds.velocity_state import assess_children, load_and_assess, stored_flags

Status = Literal["all", "flagged"]
MAX_PERIOD = timedelta(days=366)
EARLIEST = timedelta(days=3 * 366)  # how far back a comparison may reach


@dataclass(frozen=True)
class BoardRow:
    child: Child
    assessment: Assessment
    posts_7d: int
    posts_28d: int
    last_post_at: datetime | None


@dataclass(frozen=True)
class Board:
    rows: list[BoardRow]  # highest score first
    children: int  # visible children, before the status filter
    flagged: int
    at: datetime


@dataclass(frozen=True)
class Period:
    """A half-open period [start, end) of UTC instants."""

    start: datetime
    end: datetime


def check_manager(professional: Professional) -> None:
    if professional.role != Role.MANAGER:
        raise Forbidden("The board is for managers; your children are on your home page.")


def check_status(status: str) -> Status:
    if status not in ("all", "flagged"):
        raise Invalid("status must be 'all' or 'flagged'.", field="status")
    return "flagged" if status == "flagged" else "all"


def _row(child: Child, verdict: Assessment, events: list[ActivityEvent]) -> BoardRow:
    spark = verdict.sparkline
    return BoardRow(
        child=child,
        assessment=verdict,
        posts_7d=sum(spark[-7:]),
        posts_28d=sum(spark),
        last_post_at=events[-1].at if events else None,
    )


def rank(rows: Sequence[BoardRow]) -> list[BoardRow]:
    """Flagged first, then by score, then by recent posts; ties by name for stable pages."""

    def key(row: BoardRow) -> tuple[bool, float, int, str, int]:
        a = row.assessment
        return (not a.flagged, -a.score, -row.posts_7d, row.child.display_name, row.child.id)

    return sorted(rows, key=key)


async def build_board(child_ids: set[int], now: datetime) -> Board:
    """Assess and rank these children (four queries, whatever their number)."""
    previous = await stored_flags(child_ids)
    activity, verdicts = await load_and_assess(child_ids, now, previous)
    children = await Child.filter(id__in=list(child_ids)) if child_ids else []
    rows = rank([_row(c, verdicts[c.id], activity.get(c.id, [])) for c in children])
    flagged = sum(row.assessment.flagged for row in rows)
    return Board(rows, len(rows), flagged, now)


async def read_board(
    manager: Professional, ctx: AuditContext, *, status: str = "all", now: datetime | None = None
) -> Board:
    """The manager's board, audited as "board.read" (refusals too)."""
    chosen = check_status(status)
    try:
        check_manager(manager)
    except Forbidden:
        await audit.record("board.read", ctx, actor=manager, outcome="denied")
        raise
    moment = now or utcnow()
    board = await build_board(await visible_child_ids(manager, moment), moment)
    if chosen == "flagged":
        board = Board([r for r in board.rows if r.assessment.flagged], *_counts(board))
    await audit.record(
        "board.read",
        ctx,
        actor=manager,
        detail={"children": board.children, "flagged": board.flagged, "status": chosen},
    )
    return board


def _counts(board: Board) -> tuple[int, int, datetime]:
    return board.children, board.flagged, board.at


def check_periods(a: Period, b: Period, now: datetime) -> None:
    """Each period must be non-empty, at most a year long and within the last three years.

    Errors name the API parameter that starts the period (`from` for B, `compare_from` for A).
    """
    for name, field, period in (("later", "from", b), ("earlier", "compare_from", a)):
        if period.end <= period.start:
            raise Invalid(f"The {name} period ends before it starts.", field=field)
        if period.end - period.start > MAX_PERIOD:
            raise Invalid(f"The {name} period is longer than a year.", field=field)
        if period.start < now - EARLIEST:
            raise Invalid(f"The {name} period starts more than three years ago.", field=field)


async def compare(child_ids: set[int], a: Period, b: Period) -> PeriodComparison:
    """Periods A and B (and B - A) over these children's posts together."""
    start, end = min(a.start, b.start), max(a.end, b.end)
    activity = await load_activity(child_ids, start, end)
    merged = [event for events in activity.values() for event in events]
    return compare_periods(merged, a.start, a.end, b.start, b.end)


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
            "velocity.read", ctx, actor=professional, child_id=child_id, outcome="denied"
        )
        raise
    previous = await stored_flags({child.id})
    verdict = (await assess_children({child.id}, now, previous))[child.id]
    comparison = await compare({child.id}, a, b)
    await audit.record("velocity.read", ctx, actor=professional, child_id=child.id)
    return ChildVelocity(child, verdict, comparison, a, b)


async def read_board_comparison(
    manager: Professional, a: Period, b: Period, ctx: AuditContext, child_id: int | None = None
) -> PeriodComparison:
    """Two periods over the whole board, or over one of its children; audited."""
    check_manager(manager)
    now = utcnow()
    check_periods(a, b, now)
    visible = await visible_child_ids(manager, now)
    if child_id is not None:
        await check_child_access(manager, child_id, Action.VIEW)
        visible = {child_id}
    comparison = await compare(visible, a, b)
    await audit.record(
        "board.compare", ctx, actor=manager, child_id=child_id, detail={"children": len(visible)}
    )
    return comparison
