"""The new-day shared sweep, timed before and after a change on identical copies of one
seeded world (PostgreSQL only).

A day rollover is the sweep's worst case: every velocity verdict moves (the sparkline
shifts) and every child's silence is due. This bench seeds a world once into a template
database (100,000 children and 1,000,000 posts over 90 days by default, the data of
`loadtests.board_bench --scale`, without the search index), sweeps it once at today's
date to store every verdict, and then, for each run, copies the template
(`CREATE DATABASE ... TEMPLATE`) and has N spawned worker processes sweep it together
(`VelocityWatcher.sweep`, shard by shard, as the app's workers do) with their clock moved
a day ahead. Every run therefore starts from the same stored state.

    python -m loadtests.sweep_bench seed --database-url postgres://postgres@127.0.0.1:5432/postgres
    python -m loadtests.sweep_bench run --database-url postgres://... [--velocity-only]

To time the code before a change, run the same file with the old code first on the path:
``PYTHONPATH=/tmp/old python loadtests/sweep_bench.py run ...`` (alternate old and new).
Each run prints wall time, the workers' own CPU time and their database backends' CPU
time (read from /proc: PostgreSQL must run on this machine), and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise
from tortoise.connection import get_connection

TEMPLATE = "jigsaw_sweep_template"


def _url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def _move_clock(hours: float) -> None:
    """Every `feeds` module's `utcnow` (imported by name) runs `hours` hours ahead."""
    import feeds.clock
    import feeds.silence.verdicts
    import feeds.velocity.sweep
    import feeds.velocity.verdicts

    real = feeds.clock.utcnow

    def ahead() -> datetime:
        return real() + timedelta(hours=hours)

    for name, module in list(sys.modules.items()):
        if name.startswith("feeds") and getattr(module, "utcnow", None) is real:
            module.utcnow = ahead  # type: ignore[attr-defined]


def _switch_off_silence() -> None:
    """Velocity alone, for contrast: no child's silence is due."""
    import feeds.velocity.verdicts as verdicts

    async def nobody(*_: Any, **__: Any) -> Any:
        return None

    verdicts.due_silence = nobody  # type: ignore[attr-defined]


def _backend_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these local processes."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def _backends() -> list[int]:
    _, rows = await get_connection("default").execute_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    )
    return [int(row[0]) for row in rows]


def _worker(url: str, hours: float, velocity_only: bool, profile: str, queues: Any) -> None:
    """One worker process of a shared sweep: what each uvicorn worker's watcher does."""
    ready, go, done = queues
    _move_clock(hours)
    if velocity_only:
        _switch_off_silence()
    from feeds.db import tortoise_config
    from feeds.velocity.verdicts import VelocityWatcher

    async def run() -> None:
        await Tortoise.init(config=tortoise_config(url))
        await get_connection("default").execute_query("SELECT 1")
        ready.put(True)
        go.wait()
        profiler = _profiler(profile)
        start, cpu = time.time(), time.process_time()
        await VelocityWatcher().sweep()
        end, cpu = time.time(), time.process_time() - cpu
        if profiler is not None:
            profiler.stop()
            text = profiler.output_text(unicode=False, color=False)
            Path(f"{profile}.{os.getpid()}.txt").write_text(text, encoding="utf-8")  # noqa: ASYNC240
        done.put((start, end, cpu, await _backends()))
        await Tortoise.close_connections()

    asyncio.run(run())


def _profiler(path: str) -> Any:
    if not path:
        return None
    from pyinstrument import Profiler  # a dev dependency (pyproject.toml)

    profiler = Profiler(async_mode="disabled")
    profiler.start()
    return profiler


def shared_sweep(url: str, workers: int, hours: float, velocity_only: bool, profile: str) -> str:
    """Sweep every child with `workers` processes from the moment all are connected."""
    context = multiprocessing.get_context("spawn")
    ready, done, go = context.Queue(), context.Queue(), context.Event()
    args = (url, hours, velocity_only, profile, (ready, go, done))
    processes = [context.Process(target=_worker, args=args) for _ in range(workers)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)
    load_before = os.getloadavg()
    go.set()
    spans = [done.get(timeout=900) for _ in processes]
    pids = sorted({pid for *_, backends in spans for pid in backends})
    database_cpu = _backend_cpu(pids)  # the backends live until the workers disconnect
    for process in processes:
        process.join()
    wall = max(s[1] for s in spans) - min(s[0] for s in spans)
    worker_cpu = " + ".join(f"{s[2]:.1f}" for s in spans)
    load = ", ".join(f"{x:.1f}" for x in (*load_before, *os.getloadavg()[:1]))
    what = "velocity only" if velocity_only else "velocity + silence"
    day = "new-day" if hours % 24 == 0 else "same-day"
    return (
        f"{day} shared sweep ({what}), {workers} workers: wall {wall:.2f} s; "
        f"worker CPU {worker_cpu} s; database backends' CPU {database_cpu:.1f} s; "
        f"load average before {load} after"
    )


async def _create(base: str, name: str, template: str | None = None) -> None:
    admin = await asyncpg.connect(base)
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await admin.close()


async def _drop(base: str, name: str) -> None:
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def seed_template(base: str, template: str, children: int, posts: int) -> None:
    """Create, migrate and seed the template, then store every verdict as of today."""
    from feeds.db import migrate_database, tortoise_config
    from feeds.velocity.verdicts import VelocityWatcher
    from loadtests import seed

    url = _url(base, template)
    await _drop(base, template)
    await _create(base, template)
    await migrate_database(url)
    start = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        rng = random.Random(1)
        professionals = 2_000
        await seed._people(conn, professionals)  # the load seed's own steps,
        await seed._children(conn, children)  # without its search index
        await seed._grants(conn, rng, children, professionals)
        await seed._posts(conn, rng, children, professionals, posts)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    print(f"seeded {children:,} children, {posts:,} posts in {time.perf_counter() - start:.1f} s")
    await Tortoise.init(config=tortoise_config(url))
    try:
        start = time.perf_counter()
        await VelocityWatcher().sweep()  # every verdict stored, as of today
        took = time.perf_counter() - start
        print(f"first sweep (one process, every verdict written): {took:.1f} s")
        await get_connection("default").execute_query("VACUUM ANALYZE")
    finally:
        await Tortoise.close_connections()


# What the sweep stored, less the times it was stored at: equal digests = equal verdicts
# (velocity's and silence's, their flags, and the flips' audit records and notifications).
_VERDICTS_SQL = (
    "SELECT md5(string_agg(concat_ws('|', child_id, flagged, score, assessment::text, "
    "last_post_at, shown_digest), ',' ORDER BY child_id)) FROM velocity_state",
    "SELECT md5(string_agg(concat_ws('|', child_id, flagged, score, silent_agencies::text, "
    "reasons::text), ',' ORDER BY child_id)) FROM silence_state",
    "SELECT md5(string_agg(concat_ws('|', action, child_id, detail::text), ',' "
    "ORDER BY child_id, action, detail::text)) FROM audit_record",
    "SELECT md5(string_agg(concat_ws('|', recipient_id, kind, child_id), ',' "
    "ORDER BY recipient_id, kind, child_id)) FROM notification",
)


async def verdict_digest(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return " ".join([str(await conn.fetchval(sql))[:8] for sql in _VERDICTS_SQL])
    finally:
        await conn.close()


async def run_once(args: argparse.Namespace) -> str:
    name = f"jigsaw_sweep_{uuid.uuid4().hex[:8]}"
    url = _url(args.database_url, name)
    await _create(args.database_url, name, args.template)
    try:
        hours = 24.0 * args.days_ahead
        line = await asyncio.to_thread(
            shared_sweep, url, args.workers, hours, args.velocity_only, args.profile
        )
        line += f"\n  stored verdicts' digest: {await verdict_digest(url)}"
        if args.then_same_day:  # the day's next sweep, an hour later: nothing moved
            again = await asyncio.to_thread(
                shared_sweep, url, args.workers, hours + 1, args.velocity_only, ""
            )
            line += f"\n{again}"
        return line
    finally:
        await _drop(args.database_url, name)


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["seed", "run"])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL URL on this box")
    parser.add_argument("--template", default=TEMPLATE)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--days-ahead", type=int, default=1)
    parser.add_argument("--velocity-only", action="store_true")
    parser.add_argument(
        "--then-same-day", action="store_true", help="then time the day's next sweep too"
    )
    parser.add_argument("--profile", default="", help="write each worker's pyinstrument text here")
    args = parser.parse_args(argv)
    if args.action == "seed":
        asyncio.run(seed_template(args.database_url, args.template, args.children, args.posts))
    else:
        out(asyncio.run(run_once(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
