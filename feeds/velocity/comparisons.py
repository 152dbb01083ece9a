"""Children's period comparisons, kept in each worker until an event for the child.

A compared board reads two periods' daily tallies for up to 2,000 children (~1.5 s). A
child's comparison changes only with its tallies, so it is kept, shared by every board
the child is on, and dropped (every pair of periods) when the live hub dispatches an
event for the child, from any worker (`event`; server/app.py wires it). Rules:
- Nothing kept is served unless the hub has read the event log to its end (`caught_up`)
  within `bound` (the replica's staleness bound) and since this worker's last commit
  (`committed`, run in the committing request before it answers, so a writer's next
  read here includes their post). A read waits up to WAIT_FOR_HUB for that.
- A reader with the recent-write mark (server/replica_reads.py) reads afresh while it
  lasts: their next read on another worker includes their post too.
- A read that a standby may have answered is dated its `max_lag` earlier, so an event
  heard in that window (or during the read) keeps it from being kept.
- `ttl` is the backstop for an event the hub never dispatches (committed more than its
  gap wait after its id was drawn) or tallies rebuilt outside the app (ops CLI).
- Boards read at once share their reads: a read of children already being read by
  another request waits for it (two managers opening boards over the same 2,000 children
  read their tallies once), under the same rules as what is kept: not a read begun before
  this worker's last commit, and a child dropped since that read began is read again.
Access is the request's own: only children the policy lets it see are looked up, and
names, labels and order come from its board rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from feeds import events, replica
from feeds.velocity.detector import PeriodComparison
from feeds.velocity.periods import Tallies
from feeds.velocity.trends import Trend

log = logging.getLogger("jigsaw.velocity")
COMPARE_TTL = 30.0  # seconds: the backstop (above); the reuse the board had before events
MAX_KEPT = 20_000  # children's comparisons kept per process (~2 KB each)
REFRESH_AFTER = 2 / 3  # of `ttl`: a kept comparison this old is read again in the background
BOUND = 5.0  # seconds the event log may have gone unheard (the replica's default bound)
WAIT_FOR_HUB = 0.5  # seconds a read waits for the hub to hear the log before reading afresh
# Events that never change a child's daily tallies; any other event naming a child drops
# its comparisons (a new kind of event is safe by default).
UNCHANGED_BY = frozenset(
    {
        events.POST_ACKNOWLEDGED,
        events.WORRY_SHARED,
        events.MENTION,
        events.NOTIFICATION,
        events.FOLLOW_CHANGED,
        events.VELOCITY_CHANGED,
        events.VELOCITY_UPDATED,
    }
)

Spans = tuple[datetime, datetime, datetime, datetime]  # A's start and end, B's start and end


@dataclass(frozen=True)
class ChildCompared:
    """One child's activity in periods A and B, their comparison and its trend."""

    tallies: Tallies
    comparison: PeriodComparison
    trend: Trend


Compute = Callable[[set[int]], Awaitable[dict[int, ChildCompared]]]


class Comparisons:
    """Comparisons by periods and child, kept until their child's next event; `ttl` 0
    keeps nothing. Serves nothing kept until told `caught_up` (no hub: always afresh)."""

    def __init__(
        self,
        ttl: float = COMPARE_TTL,
        max_kept: int = MAX_KEPT,
        clock: Callable[[], float] = time.monotonic,
        bound: float = BOUND,
        wake_hub: Callable[[], None] | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_kept = max_kept
        self.clock = clock  # the hub's clock too: it reports `caught_up` times from it
        self.bound = bound
        self.wake_hub = wake_hub
        self.heard_at: float | None = None  # every event committed before this was heard
        self.committed_at = float("-inf")  # this process's latest commit
        self._kept: dict[Spans, dict[int, tuple[float, ChildCompared]]] = {}
        self._dropped: dict[int, tuple[float, int]] = {}  # child -> (when, drop number)
        self._drops = 0
        self._news: asyncio.Event | None = None
        self._refreshing: dict[Spans, asyncio.Future[dict[int, ChildCompared]]] = {}
        self._reading: dict[Spans, list[_Read]] = {}  # reads under way, shared while they run

    # What the process hears (server/app.py wires these to the hub and the events module).

    def event(self, type_: str, child_id: int | None) -> None:
        """An event was dispatched: drop its child's comparisons if it may change them."""
        if child_id is not None and type_ not in UNCHANGED_BY:
            self.forget((child_id,))

    def caught_up(self, at: float) -> None:
        """Every event committed before `at` has been told to `event`."""
        if self.heard_at is None or at > self.heard_at:
            self.heard_at = at
        if self._news is not None:
            self._news.set()
            self._news = None

    def committed(self) -> None:
        """This process committed a change (called before its request answers)."""
        self.committed_at = self.clock()

    def forget(self, child_ids: Iterable[int]) -> None:
        """Drop these children's kept comparisons, of every pair of periods."""
        now = self.clock()
        for child_id in child_ids:
            self._drops += 1
            self._dropped[child_id] = (now, self._drops)
            for kept in self._kept.values():
                kept.pop(child_id, None)
        if len(self._dropped) > self.max_kept:
            self._dropped = {c: d for c, d in self._dropped.items() if now - d[0] < self.ttl}

    # Reading.

    async def get(
        self, child_ids: Collection[int], spans: Spans, compute: Compute
    ) -> dict[int, ChildCompared]:
        """Each child's comparison: kept if still exact, else from `compute` (called once,
        with the children missing)."""
        usable = self.ttl > 0 and not _wrote_lately() and await self._heard_lately()
        now = self.clock()
        kept = self._kept.get(spans, {}) if usable else {}
        found: dict[int, ChildCompared] = {}
        missing, aging = set(), set()
        for child_id in child_ids:
            entry = kept.get(child_id)
            if entry is None or now - entry[0] >= self.ttl:
                missing.add(child_id)
                continue
            found[child_id] = entry[1]
            if now - entry[0] >= self.ttl * REFRESH_AFTER:
                aging.add(child_id)
        if aging:
            self._refresh(spans, aging, compute)
        if missing and usable:
            shared = await self._shared(spans, missing)
            found.update(shared)
            missing -= shared.keys()
        if missing:
            found.update(await self._computed(spans, missing, compute))
        return found

    async def _shared(self, spans: Spans, wanted: set[int]) -> dict[int, ChildCompared]:
        """What reads under way (begun since this worker's last commit) give of `wanted`,
        less the children dropped since they began (a failed read gives nothing)."""
        found: dict[int, ChildCompared] = {}
        for under_way in list(self._reading.get(spans, ())):
            overlap = (wanted & under_way.child_ids) - found.keys()
            if not overlap or under_way.asked < self.committed_at:
                continue
            result = await asyncio.shield(under_way.result)
            found.update(
                (c, result[c])
                for c in overlap
                if c in result and not self._dropped_since(c, under_way.asked, under_way.drops)
            )
        return found

    async def _heard_lately(self) -> bool:
        """Whether the log was heard to its end within `bound` and since this process's
        last commit; waits up to WAIT_FOR_HUB for the hub to get there."""
        needed = max(self.committed_at, self.clock() - self.bound)
        deadline = time.monotonic() + WAIT_FOR_HUB
        while self.heard_at is None or self.heard_at < needed:
            left = deadline - time.monotonic()
            if self.wake_hub is None or left <= 0:
                return False
            if self._news is None:
                self._news = asyncio.Event()
            news = self._news
            self.wake_hub()
            try:
                await asyncio.wait_for(news.wait(), left)
            except TimeoutError:
                return False
        return True

    async def _computed(
        self, spans: Spans, child_ids: set[int], compute: Compute
    ) -> dict[int, ChildCompared]:
        """`compute(child_ids)`, kept as of when it was asked (less the replica's lag)."""
        asked, drops = self.clock() - _replica_lag(), self._drops
        under_way = _Read(asked, drops, child_ids, asyncio.get_running_loop().create_future())
        self._reading.setdefault(spans, []).append(under_way)
        try:
            fresh = await compute(child_ids)
        except BaseException:
            under_way.result.set_result({})  # failed or cancelled: those waiting read afresh
            raise
        finally:
            reading = self._reading[spans]
            reading.remove(under_way)
            if not reading:
                del self._reading[spans]
        under_way.result.set_result(fresh)
        self._keep(spans, asked, drops, fresh)
        return fresh

    def _refresh(self, spans: Spans, child_ids: set[int], compute: Compute) -> None:
        """Read these children's comparisons again in the background (one at a time per
        pair of periods); a failure only leaves them to expire."""
        if spans in self._refreshing:
            return
        task = asyncio.ensure_future(self._computed(spans, child_ids, compute))
        self._refreshing[spans] = task

        def done(finished: asyncio.Future[dict[int, ChildCompared]]) -> None:
            self._refreshing.pop(spans, None)
            if not finished.cancelled() and finished.exception() is not None:
                log.warning("comparison refresh failed: %r", finished.exception())

        task.add_done_callback(done)

    def _keep(self, spans: Spans, at: float, drops: int, fresh: dict[int, ChildCompared]) -> None:
        """Keep `fresh` as of `at`, except children dropped since then or while it was
        read (after drop number `drops`), within `max_kept` in all."""
        if self.ttl <= 0 or self.clock() - at >= self.ttl:
            return
        if self._dropped:
            fresh = {c: v for c, v in fresh.items() if not self._dropped_since(c, at, drops)}
        if self.size() + len(fresh) > self.max_kept:
            self._drop_expired()
        if self.size() + len(fresh) > self.max_kept:
            self._kept.clear()  # rare: many big boards at once; cheaper than an LRU
        if len(fresh) <= self.max_kept:
            self._kept.setdefault(spans, {}).update((c, (at, v)) for c, v in fresh.items())

    def _dropped_since(self, child_id: int, at: float, drops: int) -> bool:
        dropped = self._dropped.get(child_id)
        return dropped is not None and (dropped[0] > at or dropped[1] > drops)

    def _drop_expired(self) -> None:
        now = self.clock()
        for spans in list(self._kept):
            live = {c: e for c, e in self._kept[spans].items() if now - e[0] < self.ttl}
            if live:
                self._kept[spans] = live
            else:
                del self._kept[spans]

    def size(self) -> int:
        return sum(len(children) for children in self._kept.values())


@dataclass(frozen=True)
class _Read:
    """A read of some children's tallies under way: when it was asked (less the replica's
    lag), the drop count then, and its result when it comes."""

    asked: float
    drops: int
    child_ids: set[int]
    result: asyncio.Future[dict[int, ChildCompared]]


def _wrote_lately() -> bool:
    """Whether this request carries the recent-write mark (server/replica_reads.py)."""
    found = replica.bound()
    return found is not None and found[1] > 0


def _replica_lag() -> float:
    """How far behind the primary this request's reads may be (a standby's bound)."""
    found = replica.bound()
    return 0.0 if found is None else found[0].max_lag
