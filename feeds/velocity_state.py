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
from dataclasses import dataclass
from datetime import datetime

from feeds import audit, events
from feeds.activity import HISTORY, first_seen, known_since, load_activity
from feeds.clock import utcnow
from feeds.models import Child, Event, VelocityState
from feeds.velocity import ActivityEvent, Assessment, assess

log = logging.getLogger("jigsaw.velocity")

# Events that change a child's activity, and so possibly its verdict.
ACTIVITY_EVENTS = (events.POST_CREATED, events.POST_EDITED, events.POST_REMOVED)
STOP_GRACE = 10.0  # seconds to let a running recompute finish at shutdown
SCORE_STEP = 0.25  # store a new score only when it moved this much (saves writes)


@dataclass(frozen=True)
class Flip:
    child_id: int
    flagged: bool
    assessment: Assessment


async def stored_flags(child_ids: Collection[int]) -> dict[int, bool]:
    """The last stored `flagged` per child; children never assessed are absent."""
    rows = await VelocityState.filter(child_id__in=list(child_ids)).values_list(
        "child_id", "flagged"
    )
    return {int(child_id): bool(flagged) for child_id, flagged in rows}


async def load_and_assess(
    child_ids: Collection[int], now: datetime, previous: dict[int, bool]
) -> tuple[dict[int, list[ActivityEvent]], dict[int, Assessment]]:
    """Each child's last 91 days of posts and its verdict (three queries in all)."""
    activity = await load_activity(child_ids, now - HISTORY, now)
    created = await known_since(child_ids)
    verdicts = {}
    for child_id in child_ids:
        posts = activity.get(child_id, [])
        since = first_seen(created.get(child_id), posts)
        verdicts[child_id] = assess(posts, now, previous.get(child_id, False), known_since=since)
    return activity, verdicts


async def assess_children(
    child_ids: Collection[int], now: datetime, previous: dict[int, bool]
) -> dict[int, Assessment]:
    """Assess each child over its last 91 days of posts."""
    return (await load_and_assess(child_ids, now, previous))[1]


async def _ensure_rows(child_ids: Collection[int], previous: dict[int, bool]) -> None:
    missing = [VelocityState(child_id=c) for c in child_ids if c not in previous]
    if missing:
        await VelocityState.bulk_create(missing, ignore_conflicts=True)


async def _save_scores(child_ids: Collection[int], verdicts: dict[int, Assessment]) -> None:
    rows = await VelocityState.filter(child_id__in=list(child_ids))
    moved = [r for r in rows if abs(r.score - verdicts[r.child_id].score) >= SCORE_STEP]
    for row in moved:
        row.score = verdicts[row.child_id].score
    if moved:
        await VelocityState.bulk_update(moved, fields=["score"])


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
    return True


async def do_recompute_velocity(
    child_ids: Collection[int], now: datetime | None = None
) -> list[Flip]:
    """Reassess these children, persist their verdicts and emit an event for each flip."""
    now = now or utcnow()
    ids = set(child_ids)
    if not ids:
        return []
    previous = await stored_flags(ids)
    verdicts = await assess_children(ids, now, previous)
    await _ensure_rows(ids, previous)
    flips = []
    for child_id in sorted(ids):
        verdict = verdicts[child_id]
        changed = verdict.flagged != previous.get(child_id, False)
        if changed and await do_flip(child_id, verdict, now):
            flips.append(Flip(child_id, verdict.flagged, verdict))
    await _save_scores(ids, verdicts)
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
        return await do_recompute_velocity({int(c) for _, c in rows if c is not None})

    async def sweep(self) -> list[Flip]:
        """Recompute every child (also catches events that committed out of id order)."""
        self._last_sweep = time.monotonic()
        ids = [int(row["id"]) for row in await Child.all().values("id")]
        return await do_recompute_velocity(ids)
