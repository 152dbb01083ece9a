"""Children's period comparisons, kept for a few seconds in each process.

A compared board reads both periods' daily tallies for up to 2,000 children (the heaviest
statement a manager sends) and turns them into 2,000 comparisons and trends. Managers
re-read their boards every few seconds, their boards overlap (a child is on the board of
every manager of its teams), and posts reach some of their children about as often as
they read, so no cheap version of the tallies would stay valid between two reads.
Instead each child's comparison of two periods is kept for `ttl` seconds and serves every
board it is on: its counts may lag the newest posts by that much, a choice made for
periods of whole days. Access stays exact: only the children the policy let this request
see are looked up (a revoked grant drops the child from the next read), the board's
totals are the union of exactly those children's, and names, shield labels and order
come from the request's own board rows, never from here. A kept comparison older than
two thirds of `ttl` is still served, and read again in the background, so a manager who
keeps reading a board does not wait for its comparisons every `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from feeds.velocity.detector import PeriodComparison
from feeds.velocity.periods import Tallies
from feeds.velocity.trends import Trend

log = logging.getLogger("jigsaw.velocity")
COMPARE_TTL = 30.0  # seconds a child's comparison is reused (it lags posts by at most this)
MAX_KEPT = 20_000  # children's comparisons kept per process (~2 KB each)
REFRESH_AFTER = 2 / 3  # of `ttl`: a kept comparison this old is read again in the background

Spans = tuple[datetime, datetime, datetime, datetime]  # A's start and end, B's start and end


@dataclass(frozen=True)
class ChildCompared:
    """One child's activity in periods A and B, their comparison and its trend."""

    tallies: Tallies
    comparison: PeriodComparison
    trend: Trend


Compute = Callable[[set[int]], Awaitable[dict[int, ChildCompared]]]


class Comparisons:
    """Recent comparisons by periods and child; `ttl` 0 keeps nothing."""

    def __init__(
        self,
        ttl: float = COMPARE_TTL,
        max_kept: int = MAX_KEPT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_kept = max_kept
        self.clock = clock
        self._kept: dict[Spans, dict[int, tuple[float, ChildCompared]]] = {}
        self._refreshing: dict[Spans, asyncio.Future[None]] = {}

    async def get(
        self, child_ids: Collection[int], spans: Spans, compute: Compute
    ) -> dict[int, ChildCompared]:
        """Each child's comparison: kept if fresh, else from `compute` (called once, with
        the children missing)."""
        now = self.clock()
        kept = self._kept.get(spans, {})
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
        if missing:
            fresh = await compute(missing)
            self._keep(spans, now, fresh)
            found.update(fresh)
        return found

    def _refresh(self, spans: Spans, child_ids: set[int], compute: Compute) -> None:
        """Read these children's comparisons again in the background (one at a time per
        pair of periods); a failure only leaves them to expire."""
        if spans in self._refreshing:
            return

        async def refresh() -> None:
            at = self.clock()
            self._keep(spans, at, await compute(child_ids))

        task = asyncio.ensure_future(refresh())
        self._refreshing[spans] = task

        def done(finished: asyncio.Future[None]) -> None:
            self._refreshing.pop(spans, None)
            if not finished.cancelled() and finished.exception() is not None:
                log.warning("comparison refresh failed: %r", finished.exception())

        task.add_done_callback(done)

    def _keep(self, spans: Spans, at: float, fresh: dict[int, ChildCompared]) -> None:
        """Keep `fresh` as of `at` (when it was asked for), within `max_kept` in all."""
        if self.ttl <= 0:
            return
        if self.size() + len(fresh) > self.max_kept:
            self._drop_expired()
        if self.size() + len(fresh) > self.max_kept:
            self._kept.clear()  # rare: many big boards at once; cheaper than an LRU
        if len(fresh) <= self.max_kept:
            self._kept.setdefault(spans, {}).update((c, (at, v)) for c, v in fresh.items())

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
