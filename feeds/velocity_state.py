"""The persisted velocity verdict per child: recomputed after posts and by a periodic
sweep, so hysteresis holds across requests and a flip emits one `velocity.changed`.

One writer decides flips: `do_recompute_velocity`. A flip is a compare-and-set on the
stored flag, so two workers recomputing the same child emit the event once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any

from feeds import audit, events
from feeds.activity import known_since
from feeds.activity_days import ChildDays, chunked, day_end, load_days, utc_day
from feeds.clock import utcnow
from feeds.models import Child, Event, VelocityState
from feeds.velocity import DEFAULT_PARAMS, SPARKLINE_DAYS, Assessment, assess_days
from feeds.velocity_alerts import do_notify_flagged

log = logging.getLogger("jigsaw.velocity")

# Events that change a child's activity, and so possibly its verdict.
ACTIVITY_EVENTS = (events.POST_CREATED, events.POST_EDITED, events.POST_REMOVED)
STOP_GRACE = 10.0  # seconds to let a running recompute finish at shutdown
RERANK_STEP = 0.1  # score change that announces `velocity.updated` to open boards
HISTORY_DAYS = max(DEFAULT_PARAMS.span, SPARKLINE_DAYS)  # stored days each verdict reads


@dataclass(frozen=True)
class Flip:
    child_id: int
    flagged: bool
    assessment: Assessment


async def _stored(child_ids: Collection[int]) -> tuple[dict[int, bool], dict[int, float]]:
    """The last stored `flagged` and score per child (one read); never-assessed
    children are absent."""
    rows = await VelocityState.filter(child_id__in=list(child_ids)).values_list(
        "child_id", "flagged", "score"
    )
    flags = {int(child_id): bool(flagged) for child_id, flagged, _ in rows}
    return flags, {int(child_id): float(score) for child_id, _, score in rows}


async def stored_flags(child_ids: Collection[int]) -> dict[int, bool]:
    """The last stored `flagged` per child; children never assessed are absent."""
    return (await _stored(child_ids))[0]


def _known_since(created: datetime | None, first_day: date | None) -> datetime | None:
    """The earlier of record creation and the first stored day with posts (imported
    history can predate the record)."""
    if first_day is None:
        return created
    start = datetime.combine(first_day, clock_time(), tzinfo=UTC)
    return start if created is None or start < created else created


async def load_and_assess(
    child_ids: Collection[int], now: datetime, previous: dict[int, bool]
) -> tuple[dict[int, ChildDays], dict[int, Assessment]]:
    """Each child's stored daily tallies and its verdict (two queries per 5,000 children).

    Days are UTC calendar days, so the verdict is taken at the end of today (`day_end`).
    """
    days = await load_days(child_ids, utc_day(now), HISTORY_DAYS)
    created = await known_since(child_ids)
    end = day_end(now)
    verdicts = {}
    for child_id in child_ids:
        entry = days[child_id]
        since = _known_since(created.get(child_id), entry.first_day)
        verdicts[child_id] = assess_days(
            entry.days, end, previous.get(child_id, False), known_since=since
        )
    return days, verdicts


async def assess_children(
    child_ids: Collection[int], now: datetime, previous: dict[int, bool]
) -> dict[int, Assessment]:
    """Assess each child over its stored last 91 days."""
    return (await load_and_assess(child_ids, now, previous))[1]


async def _ensure_rows(child_ids: Collection[int], previous: dict[int, bool]) -> None:
    missing = [VelocityState(child_id=c) for c in child_ids if c not in previous]
    if missing:
        await VelocityState.bulk_create(missing, ignore_conflicts=True)


def stored_assessment(verdict: Assessment) -> dict[str, Any]:
    """An Assessment as the JSON the board reads back (scores rounded: no churn)."""
    # Shallow on purpose: dataclasses.asdict deep-copies every list, a third of a sweep.
    data = {f.name: getattr(verdict, f.name) for f in fields(verdict)}
    data["score"] = round(verdict.score, 2)
    data["usual_posts"] = round(verdict.usual_posts, 2)
    data["p_value"] = float(f"{verdict.p_value:.3g}")
    return data


def loaded_assessment(data: dict[str, Any]) -> Assessment:
    return Assessment(**data)


async def _save_verdicts(
    child_ids: Collection[int],
    verdicts: dict[int, Assessment],
    days: dict[int, ChildDays],
    now: datetime,
) -> list[int]:
    """Store what the board shows, writing only the rows whose verdict or last post
    moved; returns those children's ids."""
    rows = await VelocityState.filter(child_id__in=list(child_ids))
    moved = []
    for row in rows:
        shown = stored_assessment(verdicts[row.child_id])
        last = days[row.child_id].last_post_at
        if row.assessment != shown or row.last_post_at != last:
            row.assessment, row.last_post_at = shown, last
            row.score, row.assessed_at = shown["score"], now
            moved.append(row)
    if moved:
        fields = ["assessment", "last_post_at", "score", "assessed_at"]
        await VelocityState.bulk_update(moved, fields=fields, batch_size=1000)
    return [row.child_id for row in moved]


def _reranks(before: float, verdict: Assessment) -> bool:
    # Small score wobbles do not reorder a board; counts refresh on the next re-read.
    return abs(verdict.score - before) >= RERANK_STEP


async def _announce(child_ids: list[int], verdicts: dict[int, Assessment]) -> None:
    """Tell open boards these children's stored verdicts moved (one event each, filtered
    by access like every event), so they re-rank without waiting for a flip."""
    async with events.transaction():
        for child_id in child_ids:
            verdict = verdicts[child_id]
            payload = {"child_id": child_id, "score": round(verdict.score, 2)}
            await events.emit(events.VELOCITY_UPDATED, payload, child_id=child_id)


async def do_flip(child_id: int, verdict: Assessment, now: datetime) -> bool:
    """Store a changed flag, audit it and emit `velocity.changed`, if nobody did first."""
    async with events.transaction():
        changed = await VelocityState.filter(child_id=child_id, flagged=not verdict.flagged).update(
            flagged=verdict.flagged,
            score=verdict.score,
            flagged_at=now if verdict.flagged else None,
            updated_at=now,
        )
        if not changed:
            return False
        detail = {"flagged": verdict.flagged, "score": round(verdict.score, 2)}
        await audit.record("velocity.changed", audit.SYSTEM, child_id=child_id, detail=detail)
        payload = {**detail, "child_id": child_id, "reasons": verdict.reasons}
        await events.emit(events.VELOCITY_CHANGED, payload, child_id=child_id)
        if verdict.flagged:
            await do_notify_flagged(child_id)
    return True


async def do_recompute_velocity(
    child_ids: Collection[int], now: datetime | None = None, *, announce: bool = False
) -> list[Flip]:
    """Reassess these children, persist their verdicts and emit an event for each flip
    (and, with `announce`, for each child whose stored verdict moved otherwise)."""
    now = now or utcnow()
    flips: list[Flip] = []
    # In chunks: bounded memory, and no statement over the drivers' parameter limits.
    for chunk in chunked(set(child_ids)):
        flips += await _recompute(chunk, now, announce)
    return flips


async def _recompute(ids: list[int], now: datetime, announce: bool) -> list[Flip]:
    # Scores as stored before this pass; a flip rewrites only its own (excluded below).
    previous, shown = await _stored(ids)
    days, verdicts = await load_and_assess(ids, now, previous)
    await _ensure_rows(ids, previous)
    flips = []
    for child_id in sorted(ids):
        verdict = verdicts[child_id]
        changed = verdict.flagged != previous.get(child_id, False)
        if changed and await do_flip(child_id, verdict, now):
            flips.append(Flip(child_id, verdict.flagged, verdict))
    moved = await _save_verdicts(ids, verdicts, days, now)
    if announce:
        flipped = {flip.child_id for flip in flips}
        # A new row starts at score 0 (see _ensure_rows).
        reranked = [
            c for c in moved if c not in flipped and _reranks(shown.get(c, 0.0), verdicts[c])
        ]
        await _announce(reranked, verdicts)
    return flips


class VelocityWatcher:
    """Background task: recompute the children touched by new posts within a second or two
    of the commit, and sweep every child periodically so verdicts also change as time
    passes without posts (a burst ages out of the 7-day window)."""

    def __init__(self, poll_interval: float = 2.0, sweep_interval: float = 600.0) -> None:
        self.poll_interval = poll_interval
        self.sweep_interval = sweep_interval
        self.position = 0
        self._last_sweep = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        latest = await Event.all().order_by("-id").first()
        self.position = latest.id if latest else 0
        events.add_listener(self.wake)
        self._task = asyncio.create_task(self._run(), name="jigsaw-velocity")

    async def stop(self) -> None:
        """Let the current recompute finish: cancelling it inside a transaction could
        leave the connection's transaction lock held and hang the shutdown."""
        events.remove_listener(self.wake)
        self._stopping = True
        self.wake()
        if self._task:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if time.monotonic() - self._last_sweep >= self.sweep_interval:
                    await self.sweep()
                await self.catch_up()
            except Exception:
                log.exception("velocity recompute failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    async def catch_up(self) -> list[Flip]:
        """Recompute every child with activity events after `position`."""
        rows = (
            await Event.filter(id__gt=self.position, type__in=ACTIVITY_EVENTS)
            .order_by("id")
            .values_list("id", "child_id")
        )
        if not rows:
            return []
        self.position = max(int(event_id) for event_id, _ in rows)
        touched = {int(c) for _, c in rows if c is not None}
        return await do_recompute_velocity(touched, announce=True)

    async def sweep(self) -> list[Flip]:
        """Recompute every child (also catches events that committed out of id order)."""
        self._last_sweep = time.monotonic()
        ids = [int(row["id"]) for row in await Child.all().values("id")]
        return await do_recompute_velocity(ids)
