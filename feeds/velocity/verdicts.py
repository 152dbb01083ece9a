"""The persisted velocity verdict per child: recomputed after posts and by a periodic
sweep, so hysteresis holds across requests and a flip emits one `velocity.changed`.

One writer decides flips: `do_recompute_velocity`. A flip is a compare-and-set on the
stored flag, so two workers recomputing the same child emit the event once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from feeds import audit, events
from feeds.access.ending import do_warn_ending
from feeds.audit.actions import AuditAction
from feeds.background import BackgroundLoop
from feeds.clock import utcnow
from feeds.leases import Lease
from feeds.models import Event, VelocityState
from feeds.silence.verdicts import HISTORY_DAYS as SILENCE_DAYS
from feeds.silence.verdicts import DueSilence, due_silence, every_silence
from feeds.velocity import sweep
from feeds.velocity.alerts import do_notify_flagged
from feeds.velocity.detector import DEFAULT_PARAMS, SPARKLINE_DAYS, Assessment, assess_active
from feeds.velocity.tallies import ChildDays, chunked, day_end, load_days, utc_day
from feeds.velocity.unchanged import days_inputs, inputs_digest, read_unchanged
from feeds.velocity.verdict_rows import (
    ChunkState,
    VerdictRow,
    ensure_rows,
    read_chunk,
    shown_digest,
    write_verdicts,
)

log = logging.getLogger("jigsaw.velocity")

# Events that change a child's activity, and so possibly its verdict.
ACTIVITY_EVENTS = (events.POST_CREATED, events.POST_EDITED, events.POST_REMOVED)
STOP_GRACE = 10.0  # seconds to let a running recompute finish at shutdown
CATCH_UP_LEASE_NAME = "velocity"
CATCH_UP_LEASE = timedelta(seconds=5)  # a dead leader's catch-up resumes elsewhere by then
CATCH_UP_GAP = 0.5  # seconds: at most one catch-up pass this often, whatever the commits
CATCH_UP_POLL = 1.0  # seconds between the leader's looks for posts through other workers
SETTLE = timedelta(seconds=5)  # no event id is still committing after this long
YIELD_EVERY = 250  # children assessed between two turns of the event loop (~10 ms)
RERANK_STEP = 0.1  # score change that announces `velocity.updated` to open boards
SWEEP_CHECK = 30.0  # seconds between two looks for due sweep shards
HISTORY_DAYS = max(DEFAULT_PARAMS.span, SPARKLINE_DAYS)  # stored days each verdict reads


@dataclass(frozen=True)
class Flip:
    child_id: int
    flagged: bool
    assessment: Assessment


async def stored_flags(child_ids: Collection[int]) -> dict[int, bool]:
    """The last stored `flagged` per child; children never assessed are absent."""
    return (await read_chunk(child_ids)).flags


def _known_since(created: datetime | None, first_day: date | None) -> datetime | None:
    """The earlier of record creation and the first stored day with posts (imported
    history can predate the record)."""
    if first_day is None:
        return created
    start = datetime.combine(first_day, clock_time(), tzinfo=UTC)
    return start if created is None or start < created else created


async def _assess_loaded(
    child_ids: Collection[int],
    days: dict[int, ChildDays],
    created: dict[int, datetime],
    now: datetime,
    previous: dict[int, bool],
) -> dict[int, Assessment]:
    """Each child's verdict from its stored days. Days are UTC calendar days, so the
    verdict is taken at the end of today (`day_end`)."""
    end, today = day_end(now), utc_day(now)
    verdicts = {}
    for n, child_id in enumerate(child_ids):
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            # Let the event loop run: requests on this worker, and the database streaming
            # the next chunk's rows (it stalls when nobody reads its socket).
            await asyncio.sleep(0)
        entry = days[child_id]
        since = _known_since(created.get(child_id), entry.first_day(today))
        verdicts[child_id] = assess_active(
            entry.active, end, previous.get(child_id, False), known_since=since
        )
    return verdicts


async def assess_children(
    child_ids: Collection[int], now: datetime, previous: dict[int, bool]
) -> dict[int, Assessment]:
    """Assess each child over its stored last 91 days (not stored: a fresh look)."""
    days = await load_days(child_ids, utc_day(now), HISTORY_DAYS)
    created = (await read_chunk(child_ids)).created
    return await _assess_loaded(child_ids, days, created, now, previous)


_ASSESSMENT_FIELDS = tuple(f.name for f in fields(Assessment))


def _shown_values(verdict: Assessment) -> tuple[Any, ...]:
    """What the board shows of a verdict, field by field (scores rounded: no churn)."""
    # Shallow on purpose: dataclasses.asdict deep-copies every list, a third of a sweep.
    return (
        round(verdict.score, 2),
        verdict.flagged,
        verdict.reasons,
        verdict.recent_posts,
        round(verdict.usual_posts, 2),
        verdict.agencies,
        verdict.new_agencies,
        verdict.concerns,
        verdict.window_days,
        float(f"{verdict.p_value:.3g}"),
        verdict.sparkline,
        verdict.usual,
        round(verdict.recent_score, 2),
    )


def stored_assessment(verdict: Assessment) -> dict[str, Any]:
    """An Assessment as the JSON the board reads back."""
    return dict(zip(_ASSESSMENT_FIELDS, _shown_values(verdict), strict=True))


def loaded_assessment(data: dict[str, Any]) -> Assessment:
    return Assessment(**data)


def _moved(
    verdicts: dict[int, Assessment], days: dict[int, ChildDays], state: ChunkState, today: date
) -> list[VerdictRow]:
    """The verdicts whose shown JSON or last post, or the inputs they were computed from,
    differ from what is stored."""
    moved = []
    for child_id, verdict in verdicts.items():
        entry = days[child_id]
        values, last = _shown_values(verdict), entry.last_post_at
        digest = shown_digest(values, last)
        stored = state.stored.get(child_id)
        inputs = None  # a flip: reassessed with its new flag next time (unchanged.py)
        if verdict.flagged == (stored is not None and stored.flagged):
            created = state.created.get(child_id)
            inputs = inputs_digest(today, created, verdict.flagged, days_inputs(entry))
        if stored is None or stored.digest != digest or stored.inputs != inputs:
            shown = dict(zip(_ASSESSMENT_FIELDS, values, strict=True))
            moved.append(VerdictRow(child_id, shown, shown["score"], last, digest, inputs))
    return moved


def _reranks(before: float, verdict: Assessment) -> bool:
    # Small score wobbles do not reorder a board; counts refresh on the next re-read.
    return abs(verdict.score - before) >= RERANK_STEP


async def _announce(child_ids: list[int], verdicts: dict[int, Assessment]) -> None:
    """Tell open boards these children's stored verdicts moved (one event each, filtered
    by access like every event), so they re-rank without waiting for a flip."""
    if not child_ids:
        return
    moved = [
        (events.VELOCITY_UPDATED, {"child_id": c, "score": round(verdicts[c].score, 2)}, c, None)
        for c in child_ids
    ]
    async with events.transaction():  # one statement for them all (a pass may move many)
        await events.emit_many(moved)


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
        await audit.record(
            AuditAction.VELOCITY_CHANGED, audit.SYSTEM, child_id=child_id, detail=detail
        )
        payload = {**detail, "child_id": child_id, "reasons": verdict.reasons}
        await events.emit(events.VELOCITY_CHANGED, payload, child_id=child_id)
        if verdict.flagged:
            await do_notify_flagged(child_id)
    return True


async def do_recompute_velocity(
    child_ids: Collection[int],
    now: datetime | None = None,
    *,
    announce: bool = False,
    silence: DueSilence | None = None,
    skip_unchanged: bool = False,
) -> list[Flip]:
    """Reassess these children, persist their verdicts and emit an event for each flip
    (and, with `announce`, for each child whose stored verdict moved otherwise). With
    `silence`, the children due for their daily silence verdict get it from the same read
    of their days. With `skip_unchanged` (and no silence due), children whose stored
    verdict was computed today from the inputs they have now are left alone: reassessed,
    they would give the same verdict (feeds/velocity/unchanged.py)."""
    now = now or utcnow()
    # In chunks: bounded memory, and no statement over the drivers' parameter limits.
    chunks = list(chunked(set(child_ids)))
    if not chunks:
        return []
    reader = _Reader(now, silence, skip_unchanged)
    if len(chunks) == 1:
        ids, state, days = await reader.load(chunks[0])
        flips, moved, verdicts = await reader.decide(ids, state, days)
        await write_verdicts(moved, now)
        if announce:
            await _announce(_reranked(state, moved, flips, verdicts), verdicts)
        return flips
    with _collector_paused():
        return await _pipelined(chunks, reader, announce)


@dataclass(frozen=True)
class _Reader:
    """Loads and decides a chunk: velocity's 13 weeks of days, or silence's 40 weeks when
    some children are due for their daily silence verdict (then assessed from them too)."""

    now: datetime
    silence: DueSilence | None
    skip_unchanged: bool = False

    @property
    def silence_due(self) -> bool:
        return self.silence is not None and bool(self.silence.stored)

    @property
    def length(self) -> int:
        return max(HISTORY_DAYS, SILENCE_DAYS) if self.silence_due else HISTORY_DAYS

    async def load(self, ids: list[int]) -> tuple[list[int], ChunkState, dict[int, ChildDays]]:
        """The children to assess (all, or those whose inputs changed), the chunk's stored
        state and their days. Flags and scores as stored before this pass (a flip rewrites
        only its own); the reads go out together, on pooled connections."""
        today = utc_day(self.now)
        if self.skip_unchanged and not self.silence_due:
            state, same = await read_unchanged(ids, today, HISTORY_DAYS)
            ids = [c for c in ids if c not in same]
            return ids, state, await load_days(ids, today, self.length)
        state, days = await asyncio.gather(read_chunk(ids), load_days(ids, today, self.length))
        return ids, state, days

    async def decide(
        self, ids: list[int], state: ChunkState, days: dict[int, ChildDays]
    ) -> tuple[list[Flip], list[VerdictRow], dict[int, Assessment]]:
        recent = days
        if self.length > HISTORY_DAYS:
            recent = {child_id: days[child_id].within(HISTORY_DAYS) for child_id in ids}
        decided = await _decide(ids, state, recent, self.now)
        if self.silence is not None:
            await self.silence.do_assess(ids, days, self.now)
        return decided


async def _pipelined(chunks: list[list[int]], reader: _Reader, announce: bool) -> list[Flip]:
    """A sweep: while this process assesses one chunk (CPU), the database reads the next
    and writes the last (its own process), so a sweep takes less than their sum."""
    flips: list[Flip] = []
    now = reader.now
    loading = asyncio.ensure_future(reader.load(chunks[0]))
    writing: asyncio.Future[None] | None = None
    try:
        for index in range(len(chunks)):
            ids, state, days = await loading
            if index + 1 < len(chunks):
                loading = asyncio.ensure_future(reader.load(chunks[index + 1]))
                await asyncio.sleep(0)  # send its queries before assessing this chunk
            chunk_flips, moved, verdicts = await reader.decide(ids, state, days)
            flips += chunk_flips
            if writing:
                await writing
            writing = asyncio.ensure_future(write_verdicts(moved, now))
            if announce:  # boards re-read stored verdicts on the event: write first
                await writing
                await _announce(_reranked(state, moved, chunk_flips, verdicts), verdicts)
        if writing:
            await writing
    finally:
        for pending in (loading, writing):
            if pending and not pending.done():
                pending.cancel()
    return flips


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a sweep: its allocations (tallies, verdicts)
    free by reference counting, and its repeated full collections over the growing heap
    were a third of a 100,000-child sweep."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def _decide(
    ids: list[int], state: ChunkState, days: dict[int, ChildDays], now: datetime
) -> tuple[list[Flip], list[VerdictRow], dict[int, Assessment]]:
    """Assess a loaded chunk and store its flips; returns the flips, the verdicts to
    write and all verdicts."""
    previous = state.flags
    verdicts = await _assess_loaded(ids, days, state.created, now, previous)
    await ensure_rows([c for c in ids if c not in state.stored], now)
    flips = []
    for child_id in sorted(ids):
        verdict = verdicts[child_id]
        changed = verdict.flagged != previous.get(child_id, False)
        if changed and await do_flip(child_id, verdict, now):
            flips.append(Flip(child_id, verdict.flagged, verdict))
    return flips, _moved(verdicts, days, state, utc_day(now)), verdicts


def _reranked(
    state: ChunkState, moved: list[VerdictRow], flips: list[Flip], verdicts: dict[int, Assessment]
) -> list[int]:
    """Children whose stored score moved enough to reorder a board, flips aside (a flip
    announces itself)."""
    flipped = {flip.child_id for flip in flips}
    return [
        row.child_id
        for row in moved
        if row.child_id not in flipped
        and _reranks(_stored_score(state, row.child_id), verdicts[row.child_id])
    ]


def _stored_score(state: ChunkState, child_id: int) -> float:
    stored = state.stored.get(child_id)
    return stored.score if stored else 0.0


class VelocityWatcher:
    """Background work: catch up the children touched by new posts, and sweep every child
    periodically so verdicts also change as time passes without posts (a burst ages out of
    the 7-day window). Every worker sweeps, sharing the shards (`feeds/velocity/sweep.py`).
    One worker catches up: the holder of the catch-up lease (feeds/leases.py) recomputes
    every touched child, whichever worker took the post, in one pass at most every `gap`.
    A flag so appears within about a second of the commit: the pass starts at most `gap`
    (0.5 s) after it for posts through this worker, which wake it, or `poll_interval`
    (1 s) for posts through another, and recomputing a few children takes tens of
    milliseconds. A leader that stops hands over at once; one that dies, within its lease."""

    def __init__(
        self,
        poll_interval: float = CATCH_UP_POLL,
        sweep_interval: float = 600.0,
        lease: timedelta = CATCH_UP_LEASE,
        gap: float = CATCH_UP_GAP,
    ) -> None:
        self.poll_interval = poll_interval
        self.sweep_interval = sweep_interval
        self.gap = gap
        self.position = 0  # every activity event up to here is caught up, or never will be
        self.recomputed = 0  # children recomputed by catch-up passes (tests count them)
        self.passes = 0  # catch-up passes that recomputed some
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = Lease(CATCH_UP_LEASE_NAME, self.name, lease)
        self._done: set[int] = set()  # events after `position` already caught up
        self._passing = asyncio.Lock()  # the loop's passes and direct calls, one at a time
        self._last_pass = 0.0  # monotonic
        self._last_sweep = 0.0
        self.loop = BackgroundLoop("jigsaw-velocity", self._sweep_step, poll_interval)
        # A loop of its own, so sweeping a shard never holds up the flags of new posts.
        self.catching = BackgroundLoop("jigsaw-velocity-catch-up", self._step, poll_interval)

    async def start(self) -> None:
        self.position = await events.latest_event_id()
        # The first look for due shards waits SWEEP_CHECK: a worker starting up has enough
        # to do, and new children are assessed when first shown or posted to anyway.
        self._last_sweep = time.monotonic()
        events.add_listener(self.wake)
        self.loop.start()
        self.catching.start()

    async def stop(self) -> None:
        """Let the current recompute finish: cancelling it inside a transaction could
        leave the connection's transaction lock held and hang the shutdown. Then hand the
        catch-up on."""
        events.remove_listener(self.wake)
        await asyncio.gather(self.catching.stop(STOP_GRACE), self.loop.stop(STOP_GRACE))
        await self.lease.release()

    def wake(self) -> None:
        """A commit in this process: the leader catches it up (others have no pass to run)."""
        if self.lease.held:
            self.catching.wake()

    async def _sweep_step(self) -> None:
        if time.monotonic() - self._last_sweep >= SWEEP_CHECK:
            self._last_sweep = time.monotonic()
            await self.sweep(utcnow() - timedelta(seconds=self.sweep_interval))
            await do_warn_ending(utcnow())  # time passing also brings access's end near

    async def _step(self) -> None:
        if not await self._lead():
            return
        wait = self._last_pass + self.gap - time.monotonic()
        if wait > 0:  # a burst's commits wait for one pass rather than each starting one
            await asyncio.sleep(wait)
        if not self.catching.stopping:
            await self.catch_up()

    async def _lead(self) -> bool:
        """Whether this worker catches up. Newly elected, it first looks back over the last
        moments, which the last leader may not have caught up before it stopped."""
        was_leading = self.lease.held
        if not await self.lease.hold():
            return False
        if not was_leading:
            lookback = 2 * self.lease.length + SETTLE
            async with self._passing:
                self.position = await events.last_event_before(utcnow() - lookback)
                self._done = set()
            log.info("velocity catch-up elected: %s", self.name)
        return True

    async def catch_up(self) -> list[Flip]:
        """Recompute, in one pass, every child with activity events after `position` that
        no earlier pass caught up."""
        async with self._passing:
            self._last_pass = time.monotonic()
            rows = await Event.filter(id__gt=self.position, type__in=ACTIVITY_EVENTS).values_list(
                "id", "child_id", "created_at"
            )
            fresh = [(int(i), child) for i, child, _ in rows if int(i) not in self._done]
            touched = {int(child) for _, child in fresh if child is not None}
            flips: list[Flip] = []
            if touched:  # a post may end a silence too: both from one read of the days
                silence = await every_silence(touched)
                flips = await do_recompute_velocity(touched, announce=True, silence=silence)
                self.recomputed += len(touched)
                self.passes += 1
            # Only now: a failed recompute is tried again on the next pass.
            self._done.update(event_id for event_id, _ in fresh)
            self._settle(rows)
            return flips

    def _settle(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Move `position` past the events older than SETTLE. Ids are taken before commit,
        so a lower id may commit after a higher one was read: a pass reads the recent ones
        again (skipping those done) until no lower id can still be committing."""
        settled = utcnow() - SETTLE
        old = [int(event_id) for event_id, _, created in rows if created < settled]
        if old:
            self.position = max(old)
            self._done = {event_id for event_id in self._done if event_id > self.position}

    async def sweep(self, due_before: datetime | None = None) -> list[Flip]:
        """Recompute every shard last swept before `due_before` (default: now, so every
        shard) that no other worker is sweeping; returns the flips."""
        await sweep.ensure_shards()
        due = due_before or utcnow()
        flips: list[Flip] = []
        for shard in await sweep.due_shards(due):
            if self.loop.stopping:
                break
            if not await sweep.claim(shard, self.name, due):
                continue  # another worker has it, or swept it meanwhile
            swept, now = False, utcnow()
            try:
                children = await sweep.shard_children(shard)
                silence = await self._due_silence(shard, children, now)
                flips += await do_recompute_velocity(
                    children, now, silence=silence, skip_unchanged=True
                )
                swept = True
            finally:
                await sweep.release(shard, self.name, swept, now)
        return flips

    @staticmethod
    async def _due_silence(shard: int, children: list[int], now: datetime) -> DueSilence | None:
        """Silence moves only when the day rolls over (posts are caught up above): it is
        assessed on a shard's first whole sweep of a UTC day, from the days velocity reads
        anyway, and not read at all by the day's other sweeps."""
        last = await sweep.swept_on(shard)
        if last is not None and utc_day(last) == utc_day(now):
            return None
        return await due_silence(children, now)
