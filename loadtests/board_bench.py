"""How fast is a manager's board, and a full velocity recompute? Seeds a manager whose
team sees N children (default 2,000) with ~90 days of posts each, recounts the daily
tallies, then times full recomputes of every child (velocity; silence alone), the shared
sweep (velocity and silence, as the app's workers run it) and `build_board` (what
GET /api/v1/board does, minus HTTP: a read of stored verdicts).

    python -m loadtests.board_bench                         # SQLite in a temp file
    python -m loadtests.board_bench --database-url postgres://postgres@127.0.0.1:5432/postgres
    python -m loadtests.board_bench --database-url postgres://... --scale 100000 --runs 30
        # 100,000 children and 1,000,000 posts (COPY); the board is m0's 2,000 children

With a PostgreSQL URL a fresh database is created beside the one named and dropped
afterwards. Output: loadtests/results/board.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise
from tortoise.connection import get_connection

from feeds.access.policy import visible_child_ids
from feeds.clock import utcnow
from feeds.db import migrate_database, tortoise_config
from feeds.models import (
    Agency,
    Child,
    Grant,
    Post,
    PostKind,
    Professional,
    Role,
    Sector,
    Team,
    TeamMember,
)
from feeds.silence.verdicts import do_recompute_silence
from feeds.velocity.board import Period, build_board, compare
from feeds.velocity.detector import ActivityEvent, PeriodComparison, compare_periods
from feeds.velocity.tallies import chunked, moment, rebuild_days
from feeds.velocity.verdicts import VelocityWatcher, assess_children, do_recompute_velocity
from loadtests.seed import seed as load_seed

UNUSABLE = "!bench"  # not a valid hash: nobody can log in as these people
KINDS = [PostKind.UPDATE] * 6 + [PostKind.VISIT] * 2 + [PostKind.HUNCH, PostKind.CONCERN]


async def _seed_people(rng: random.Random) -> tuple[Professional, Team, list[Professional]]:
    await Agency.bulk_create(
        [Agency(name=f"Agency {i}", sector=rng.choice(list(Sector))) for i in range(12)]
    )
    agencies = await Agency.all()
    staff = [
        Professional(
            email=f"p{i}@bench.test",
            name=f"P {i}",
            handle=f"p{i}",
            agency=agencies[i % len(agencies)],
            password_hash=UNUSABLE,
        )
        for i in range(120)
    ]
    await Professional.bulk_create(staff)
    manager = await Professional.create(
        email="manager@bench.test",
        name="M",
        handle="manager",
        agency=agencies[0],
        role=Role.MANAGER,
        password_hash=UNUSABLE,
    )
    team = await Team.create(name="Bench team", agency=agencies[0])
    await TeamMember.create(team=team, professional=manager, is_manager=True)
    return manager, team, await Professional.all()


def _posts_for(
    child: Child, staff: list[Professional], rng: random.Random, per_day: float
) -> list[Post]:
    now = utcnow()
    rate = per_day * math.exp(rng.gauss(0, 1) - 0.5)  # log-normal, mean `per_day`
    authors = rng.sample(staff, k=rng.randint(2, 5))
    posts = []
    for day in range(90):
        for _ in range(_poisson(rng, rate)):
            at = now - timedelta(days=day, seconds=rng.uniform(0, 86_400))
            posts.append(
                Post(
                    child=child,
                    author=rng.choice(authors),
                    kind=rng.choice(KINDS),
                    body="bench",
                    created_at=at,
                )
            )
    return posts


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, k, p = math.exp(-mean), 0, rng.random()
    while p > threshold:
        k += 1
        p *= rng.random()
    return k


async def seed(children: int, per_day: float, seed_value: int) -> tuple[Professional, int]:
    rng = random.Random(seed_value)
    manager, team, staff = await _seed_people(rng)
    await Child.bulk_create(
        [Child(display_name=f"C {i}", reference=f"B-{i:06d}") for i in range(children)]
    )
    kids = await Child.all()
    await Grant.bulk_create([Grant(child=c, team=team) for c in kids])
    total = 0
    for start in range(0, len(kids), 200):
        batch = [p for c in kids[start : start + 200] for p in _posts_for(c, staff, rng, per_day)]
        await Post.bulk_create(batch, batch_size=2000)
        total += len(batch)
    return manager, total


async def _timed(runs: int, work: Callable[[], Awaitable[Any]]) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _line(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return (
        f"{name:<34} median {statistics.median(times):8.1f} ms   p95 {p95:8.1f} ms   "
        f"(n={len(times)})"
    )


async def measure(manager: Professional, runs: int, everyone: list[int]) -> list[str]:
    """The board read (what GET /api/v1/board does, minus HTTP), and full recomputes."""
    ids = await visible_child_ids(manager)
    lines = [_line("recount daily tallies (one-off)", await _timed(1, _recount(everyone)))]
    lines += [
        _line(
            f"full recompute, {len(everyone):,} children (first, writes)",
            await _timed(1, _sweep(everyone)),
        ),
        _line(
            f"full recompute, {len(everyone):,} children (steady)",
            await _timed(3, _sweep(everyone)),
        ),
        # The day rolls over: every window moves, so (nearly) every verdict is rewritten.
        _line(
            f"full recompute, {len(everyone):,} children (new day)",
            await _timed(3, _sweep(everyone, days_ahead=True)),
        ),
        # Silence alone (the sweep adds it once a UTC day per child, from the same read).
        _line(
            f"silence recompute, {len(everyone):,} children (first, writes)",
            await _timed(1, _silence(everyone)),
        ),
        _line(
            f"silence recompute, {len(everyone):,} children (new day)",
            await _timed(3, _silence(everyone)),
        ),
    ]

    async def board() -> None:
        await build_board(await visible_child_ids(manager), utcnow())

    async def assess_only() -> None:
        await assess_children(ids, utcnow(), {})

    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    b = Period(midnight - timedelta(days=27), midnight + timedelta(days=1))
    a = Period(b.start - timedelta(days=28), b.start)

    async def comparison() -> None:
        await compare(ids, a, b)

    async def comparison_from_posts() -> None:
        await compare_from_posts(ids, a, b)

    await board()  # warm caches and connections
    same = await compare(ids, a, b) == await compare_from_posts(ids, a, b)
    lines += [
        _line(f"board read, {len(ids):,} children (stored)", await _timed(runs, board)),
        _line(f"  recompute those {len(ids):,} (for contrast)", await _timed(runs, assess_only)),
        _line(
            f"board comparison, {len(ids):,} children, 28 d vs 28 d (tallies)",
            await _timed(runs, comparison),
        ),
        _line(
            "  the same from the posts (the old way, for contrast)",
            await _timed(runs, comparison_from_posts),
        ),
        f"  both ways give the same numbers: {'yes' if same else 'NO'}",
    ]
    return lines


_POSTS_SQL = (
    "SELECT p.created_at, p.kind, p.author_id, a.name FROM post p "
    "JOIN professional r ON r.id = p.author_id JOIN agency a ON a.id = r.agency_id "
    "WHERE p.child_id IN ({ids}) AND p.removed_at IS NULL "
    "AND p.created_at >= {mark} ORDER BY p.created_at"
)


async def compare_from_posts(ids: set[int], a: Period, b: Period) -> PeriodComparison:
    """What the board did before comparisons read the tallies: every post in both periods
    as an ActivityEvent, counted in Python."""
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    since = min(a.start, b.start)
    events = []
    for chunk in chunked(ids):
        sql = _POSTS_SQL.format(ids=",".join(map(str, chunk)), mark="$1" if postgres else "?")
        _, rows = await connection.execute_query(sql, [since])
        for at, k, au, ag in rows:
            when = moment(at)
            assert when is not None  # created_at is NOT NULL
            events.append(ActivityEvent(when, str(k), str(au), str(ag)))
    return compare_periods(events, a.start, a.end, b.start, b.end)


def _sweep_worker(url: str, ready: Any, go: Any, done: Any) -> None:
    """One worker process of a shared sweep: what each uvicorn worker's watcher does."""

    async def run() -> None:
        await Tortoise.init(config=tortoise_config(url))
        ready.put(True)
        go.wait()
        start = time.time()
        await VelocityWatcher().sweep()
        done.put((start, time.time()))
        await Tortoise.close_connections()

    asyncio.run(run())


def shared_sweep(url: str, workers: int) -> float:
    """Seconds for `workers` processes to sweep every child together (shard by shard, as
    the app's workers do), from the moment all are connected."""
    context = multiprocessing.get_context("spawn")
    ready, done, go = context.Queue(), context.Queue(), context.Event()
    processes = [
        context.Process(target=_sweep_worker, args=(url, ready, go, done)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)
    go.set()
    spans = [done.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    return float(max(end for _, end in spans) - min(start for start, _ in spans))


def _recount(ids: list[int]) -> Callable[[], Awaitable[Any]]:
    async def run() -> None:
        await rebuild_days(ids)

    return run


def _sweep(ids: list[int], days_ahead: bool = False) -> Callable[[], Awaitable[Any]]:
    ahead = 0

    async def run() -> None:
        nonlocal ahead
        ahead += days_ahead
        await do_recompute_velocity(ids, utcnow() + timedelta(days=ahead))

    return run


def _silence(ids: list[int]) -> Callable[[], Awaitable[Any]]:
    ahead = 0

    async def run() -> None:
        nonlocal ahead
        ahead += 1  # a new day each pass: every child is due again
        await do_recompute_silence(ids, utcnow() + timedelta(days=ahead), stale_only=True)

    return run


async def _postgres_database(base: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"jigsaw_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))

    async def drop() -> None:
        conn = await asyncpg.connect(base)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    return url, drop


async def main(args: argparse.Namespace) -> None:
    drop: Callable[[], Awaitable[None]] | None = None
    if args.database_url:
        url, drop = await _postgres_database(args.database_url)
    else:
        url = f"sqlite://{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    try:
        await migrate_database(url)
        start = time.perf_counter()
        if args.scale:
            await load_seed(url, args.scale, 2_000, args.posts)
            await Tortoise.init(config=tortoise_config(url))
            manager = await Professional.get(email="m0@load.test")
            posts = await Post.all().count()
        else:
            await Tortoise.init(config=tortoise_config(url))
            manager, posts = await seed(args.children, args.per_day, args.seed)
        everyone = [int(row["id"]) for row in await Child.all().values("id")]
        backend = "PostgreSQL" if drop else "SQLite"
        print(f"backend {backend}; {len(everyone):,} children, {posts:,} posts over 90 days")
        print(f"seeded in {time.perf_counter() - start:.1f} s", flush=True)
        for line in await measure(manager, args.runs, everyone):
            print(line, flush=True)
        if drop:  # several workers share a sweep only on PostgreSQL
            # The passes above stored verdicts days ahead: the first shared sweep rewrites
            # every velocity verdict and assesses every child's silence (like a new day),
            # the next finds them current.
            for what in ("every verdict moves", "steady"):
                seconds = await asyncio.to_thread(shared_sweep, url, args.workers)
                print(
                    f"shared sweep, {args.workers} workers, {len(everyone):,} children "
                    f"({what}): {seconds * 1000:.1f} ms",
                    flush=True,
                )
    finally:
        await Tortoise.close_connections()
        if drop:
            await drop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, default=2000)
    parser.add_argument("--per-day", type=float, default=0.5, help="mean posts per child-day")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (default SQLite)")
    parser.add_argument(
        "--scale",
        type=int,
        default=0,
        help="PostgreSQL only: seed this many children with loadtests.seed (COPY) instead; "
        "the board is manager m0's 2,000 children",
    )
    parser.add_argument("--posts", type=int, default=1_000_000, help="posts with --scale")
    parser.add_argument(
        "--workers", type=int, default=2, help="processes sharing the sweep (PostgreSQL)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
