"""A child's activity as the child's own page shows it: posts per day by kind over the
last weeks, and the stored velocity verdict when it is a flag, with its plain-language
reasons, or else the plain sentence that says how usual this week is (the same stored
row the manager's board reads: no recompute)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from feeds import audit, replica
from feeds.access.policy import Action, check_child_access
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.models import Professional, VelocityState
from feeds.velocity.board import Period, compare
from feeds.velocity.tallies import TIMELINE_DAYS, Counts, kinds_by_day, moment
from feeds.velocity.trends import Trend, describe


@dataclass(frozen=True)
class Flag:
    """The child is flagged on the board: why, and since when."""

    reasons: list[str]
    since: datetime | None


@dataclass(frozen=True)
class Activity:
    days: list[tuple[date, Counts]]  # oldest first, quiet days empty
    flag: Flag | None  # None when not flagged (or never assessed)
    trend: Trend  # the chart's weeks against the same number of weeks before
    usual: str = ""  # not flagged: "usual for this child: 3 posts this week, usually 2-4"


async def stored_verdict(
    child_id: int, db: BaseDBAsyncClient | None = None
) -> tuple[Flag | None, str]:
    """The child's stored verdict: the flag, if it is one, else how usual the week is."""
    row = await VelocityState.filter(child_id=child_id).using_db(db).first()
    if row is None:
        return None, ""
    stored = row.assessment or {}
    if not row.flagged:
        return None, str(stored.get("usual", ""))
    reasons = [str(reason) for reason in stored.get("reasons", [])]
    return Flag(reasons, moment(row.flagged_at)), ""


async def activity_of(child_id: int, today: date) -> Activity:
    """For a child the caller has already been allowed to see (the child page). A heavy
    read: from the hot standby when it may serve (feeds/replica.py), else the primary."""
    end = datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)
    later = Period(end - timedelta(days=TIMELINE_DAYS), end)
    earlier = Period(later.start - timedelta(days=TIMELINE_DAYS), later.start)
    trend = describe(await compare({child_id}, earlier, later))

    async def chart(
        db: BaseDBAsyncClient,
    ) -> tuple[list[tuple[date, Counts]], tuple[Flag | None, str]]:
        days = await kinds_by_day(child_id, today, db=db)
        return days, await stored_verdict(child_id, db)

    days, (flag, usual) = await replica.read_with(chart)
    return Activity(days, flag, trend, usual)


async def read_activity(
    professional: Professional, child_id: int, today: date, ctx: AuditContext
) -> Activity:
    """The activity of a child the caller may see (a page refreshing its chart), audited
    as a velocity read; refusals too."""
    async with audit.refusal_recorded(AuditAction.VELOCITY_READ, ctx, professional, child_id):
        child = await check_child_access(professional, child_id, Action.VIEW)
    await audit.record(AuditAction.VELOCITY_READ, ctx, actor=professional, child_id=child.id)
    return await activity_of(child.id, today)
