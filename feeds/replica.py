"""Reads from a PostgreSQL hot standby, with bounded staleness and read-your-writes.

The heavy reads (the board's rows, period comparisons, hotspots, full-text search, a
child's timeline and chronology) call `read_rows`/`read_dicts`, or `read_with` for ORM
queries that must all come from one server. They go to the standby (the router's own client) only
when a `Router` is bound to the request (`bind`, done by server/ for GET requests when
JIGSAW_DATABASE_REPLICA_URL is set) and the router says the standby is healthy, at most
`max_lag` seconds behind, and has replayed the reader's own last write. Otherwise, and
whenever a read on the standby fails, the same statement runs on the primary: a stopped
standby costs a retry, never an error. Access decisions are never read here: callers
pass ids the policy decided on the primary (docs/trust.md, "Replica reads").

Staleness is bounded by design: every `probe_every` seconds the router notes the
primary's WAL position P at time t, then asks the standby how far it has replayed (R).
Once R >= P, everything committed before t is visible on the standby, so a read there is
at most `now - t` seconds stale; that bound, not a timestamp, decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.connection import get_connection

log = logging.getLogger("jigsaw.replica")
PRIMARY = "default"
REPLICA = "replica"
PROBE_EVERY = 0.5  # at most this many seconds between looks at the standby's replay
RETRY_DOWN = 1.0  # seconds to leave a failed standby alone before trying it again
PROBE_TIMEOUT = 1.0
State = Literal["in use", "behind", "down", "starting"]
T = TypeVar("T")


def parse_lsn(text: str) -> int:
    """A WAL position ("16/B374D848") as one comparable number."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


@dataclass(frozen=True)
class Report:
    """What the router knows now (for /healthz and the drills)."""

    state: State
    staleness: float | None  # seconds: a read on the standby now is at most this stale
    max_lag: float
    reads: dict[str, int]  # "replica", "primary", and each reason a read went to the primary
    max_served_staleness: float  # the largest bound at which the standby served a read


class Router:
    """Decides, per read, between the standby and the primary (one per app process)."""

    def __init__(
        self,
        client: BaseDBAsyncClient,
        max_lag: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client  # the standby (feeds.db.replica_client)
        self.max_lag = max_lag
        # Under steady writes the standby is a probe behind: probe often enough that the
        # bound, not the probe interval, decides.
        self.probe_every = min(PROBE_EVERY, max_lag / 4)
        self.clock = clock
        self.samples: deque[tuple[float, int]] = deque()  # (when, primary WAL position)
        self.caught_up_at: float | None = None  # latest sample the standby has replayed
        self.replayed = 0  # the standby's replay position at the last probe
        self.probed_at = float("-inf")
        self.down_until = float("-inf")
        self.probing = False
        self.state: State = "starting"
        self.reads: Counter[str] = Counter()
        self.max_served = 0.0
        self.written: dict[int, tuple[int, float]] = {}  # person -> (WAL position, when)

    def staleness(self) -> float | None:
        if self.caught_up_at is None:
            return None
        return max(0.0, self.clock() - self.caught_up_at)

    def report(self) -> Report:
        reads = dict(self.reads)
        return Report(self.state, self.staleness(), self.max_lag, reads, self.max_served)

    async def refresh(self) -> State:
        """Probe the standby when due; its state now ("in use": within the bound)."""
        now = self.clock()
        due = now - self.probed_at >= self.probe_every
        if now >= self.down_until and due and not self.probing:
            await self.probe()
        if self.clock() < self.down_until:
            return "down"
        stale = self.staleness()
        self._set_state("behind" if stale is None or stale > self.max_lag else "in use", stale)
        return self.state

    async def choose(self, floor: int) -> str:
        """REPLICA when a read now may go to the standby for someone whose own writes
        reach WAL position `floor` (0: none lately), else PRIMARY."""
        state = await self.refresh()
        if state != "in use":
            return self._primary(state)
        if floor > self.replayed:
            return self._primary("own write")
        self.reads["replica"] += 1
        self.max_served = max(self.max_served, self.staleness() or 0.0)
        return REPLICA

    def _primary(self, reason: str) -> str:
        self.reads["primary"] += 1
        self.reads[reason] += 1
        return PRIMARY

    async def probe(self) -> None:
        """Note the primary's WAL position, then how far the standby has replayed."""
        self.probing = True
        try:
            at = self.clock()
            primary = await _scalar(get_connection(PRIMARY), "SELECT pg_current_wal_lsn()::text")
            self.samples.append((at, parse_lsn(str(primary))))
            replayed = await _scalar(self.client, "SELECT pg_last_wal_replay_lsn()::text")
            if replayed is None:
                raise RuntimeError("the replica is not a standby (pg_last_wal_replay_lsn is NULL)")
            self._replayed(parse_lsn(str(replayed)))
            self.probed_at = self.clock()
        except Exception as error:  # down, refusing, timing out or not a standby
            self.failed(error)
        finally:
            self.probing = False

    def _replayed(self, position: int) -> None:
        self.replayed = position
        while self.samples and self.samples[0][1] <= position:
            at, _ = self.samples.popleft()
            self.caught_up_at = max(at, self.caught_up_at or at)
        # Samples the standby has not reached stay until it does; keep a bounded number.
        while len(self.samples) > 4 * (self.max_lag / self.probe_every + 4):
            self.samples.popleft()

    def failed(self, error: BaseException) -> None:
        """A read or probe on the standby failed: leave it alone for RETRY_DOWN seconds."""
        self.down_until = self.clock() + RETRY_DOWN
        self.probed_at = float("-inf")  # look again as soon as it may be used
        if self.state != "down":
            log.warning("replica down, reading from the primary: %s", type(error).__name__)
        self.state = "down"

    def _set_state(self, state: State, stale: float | None) -> None:
        if state != self.state:
            shown = "unknown" if stale is None else f"{stale:.1f} s"
            log.warning("replica %s (staleness %s, bound %.1f s)", state, shown, self.max_lag)
        self.state = state

    async def note_write(self, person_id: int) -> int:
        """After `person_id`'s write committed: the primary's WAL position now, which the
        standby must have replayed before it serves them (kept for `max_lag` seconds)."""
        wal = await _scalar(get_connection(PRIMARY), "SELECT pg_current_wal_lsn()::text")
        position = parse_lsn(str(wal))
        now = self.clock()
        self.written[person_id] = (position, now)
        if len(self.written) > 1000:
            self._forget_old(now)
        return position

    def floor_for(self, person_id: int, cookie: int = 0) -> int:
        """The WAL position this person's reads must see: their last write here or the
        one their cookie carries. A write older than `max_lag` needs no floor: a standby
        within the bound has replayed it."""
        position, at = self.written.get(person_id, (0, float("-inf")))
        recent = position if self.clock() - at <= self.max_lag else 0
        return max(recent, cookie)

    def _forget_old(self, now: float) -> None:
        for person, (_, at) in list(self.written.items()):
            if now - at > self.max_lag:
                del self.written[person]

    async def close(self) -> None:
        await self.client.close()


async def _scalar(client: BaseDBAsyncClient, sql: str) -> Any:
    _, rows = await asyncio.wait_for(client.execute_query(sql), PROBE_TIMEOUT)
    return rows[0][0]


# The router and floor for the current request, set by server/ (GET requests only).
_bound: ContextVar[tuple[Router, int] | None] = ContextVar("jigsaw_replica", default=None)


@contextmanager
def bind(router: Router, floor: int) -> Iterator[None]:
    """Within this block, `read_rows`/`read_dicts`/`read_with` may use the standby."""
    token = _bound.set((router, floor))
    try:
        yield
    finally:
        _bound.reset(token)


def bound() -> tuple[Router, int] | None:
    """The router and floor bound to this request, if any (a floor above 0: the reader
    wrote lately, here or on another worker)."""
    return _bound.get()


async def read_with(run: Callable[[BaseDBAsyncClient], Awaitable[T]]) -> T:
    """`run(db)` on the standby when allowed (see above), else on the primary; run again on
    the primary when it fails on the standby. For ORM reads: `Model.filter(...).using_db(db)`."""
    primary = get_connection(PRIMARY)
    bound = _bound.get()
    # Inside a transaction the caller must see its own uncommitted rows: the primary.
    if bound is None or isinstance(primary, TransactionalDBClient):
        return await run(primary)
    router, floor = bound
    if await router.choose(floor) == PRIMARY:
        return await run(primary)
    try:
        return await run(router.client)
    except Exception as error:  # stopped, restarting, or a query cancelled by replay
        router.failed(error)
        router.reads["fallback"] += 1
        return await run(primary)


async def read_rows(sql: str, params: Sequence[Any] | None = None) -> list[Any]:
    """The rows of one read-only statement, from the standby when allowed (see above)."""

    async def run(connection: BaseDBAsyncClient) -> list[Any]:
        return list((await connection.execute_query(sql, list(params or [])))[1])

    return await read_with(run)


async def read_dicts(sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """As `read_rows`, each row as a dict."""

    async def run(connection: BaseDBAsyncClient) -> list[dict[str, Any]]:
        return await connection.execute_query_dict(sql, list(params or []))

    return await read_with(run)
