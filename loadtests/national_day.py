"""A national working day, scaled down: the per-tier numbers behind docs/scale.md.

Seeds a throwaway PostgreSQL database with N authorities' worth of children and
professionals (scaled down), then runs one working day's requests for them, compressed
in time (as fast as the box allows, CONCURRENCY at once), through the real app in this
process: posts, feed reads and caseload reads in the day's proportions. It prints, per
tier, what the day cost and what that means at national scale:

- app: CPU milliseconds per request (this process: the app plus the in-process client,
  so an overstatement) and requests per second per core;
- database: CPU milliseconds per request of the backends serving this database (read from
  /proc, so PostgreSQL must run on this machine), rows written (events, audit records,
  posts) and bytes per row on disk, WAL bytes (cluster-wide: other databases' writes count);
- the national day: requests and events per second at the peak hour, audit rows per day,
  storage per year, and the cores each tier needs.

    python -m loadtests.national_day --authorities 4 --children 300 [--keep]

The national figures (NATIONAL below) are assumptions, stated in docs/scale.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from feeds.db import migrate_database
from loadtests.app_env import app_env
from loadtests.pgdb import create_database, drop_database
from loadtests.seed import PASSWORD, caseload, seed
from server.app import create_app
from server.settings import load_settings

CONCURRENCY = 8
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Nation:
    """England, roughly (DfE children-in-need census 2024: ~400,000 children in need on
    31 March, ~50,000 on protection plans; 153 local authorities)."""

    authorities: int = 153
    open_children: int = 400_000
    posts_per_child_day: float = 0.5  # one post every other working day per open case
    feed_reads_per_post: float = 8.0  # everyone around the child reads it, some twice
    caseload_reads_per_post: float = 2.0
    working_hours: float = 8.0
    peak_factor: float = 3.0  # the busiest hour against the day's mean hour
    working_days: int = 250


NATIONAL = Nation()


@dataclass
class Day:
    """One authority-scaled day: how many of each request."""

    posts: int
    feed_reads: int
    caseload_reads: int

    @classmethod
    def for_children(cls, children: int, nation: Nation = NATIONAL) -> Day:
        posts = round(children * nation.posts_per_child_day)
        return cls(
            posts,
            round(posts * nation.feed_reads_per_post),
            round(posts * nation.caseload_reads_per_post),
        )

    def requests(self) -> list[str]:
        kinds = ["post"] * self.posts + ["feed"] * self.feed_reads
        kinds += ["caseload"] * self.caseload_reads
        random.Random(7).shuffle(kinds)
        return kinds


def backend_cpu(pids: set[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each PostgreSQL backend, from /proc."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


async def backends(conn: asyncpg.Connection) -> set[int]:
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    return {int(row["pid"]) for row in rows}


# A partitioned table's size is its partitions'; a plain table's, its own.
SIZES_SQL = """
SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree($1::regclass)
                 WHERE isleaf), pg_total_relation_size($1::regclass))
"""


async def table_bytes(conn: asyncpg.Connection, table: str) -> tuple[int, int]:
    """(bytes on disk with indexes and partitions, rows) of one table."""
    size = int(await conn.fetchval(SIZES_SQL, table))
    rows = int(await conn.fetchval(f'SELECT count(*) FROM "{table}"'))
    return size, rows


async def _tokens(client: httpx.AsyncClient, emails: list[str]) -> list[dict[str, str]]:
    found = []
    for email in emails:
        answer = await client.post(
            "/api/v1/auth/tokens", json={"email": email, "password": PASSWORD, "name": "day"}
        )
        answer.raise_for_status()
        found.append({"authorization": f"Bearer {answer.json()['token']}"})
    return found


async def _request(
    client: httpx.AsyncClient, kind: str, headers: dict[str, str], child: int
) -> httpx.Response:
    if kind == "post":
        body = {"kind": "update", "body": "Home visit after school; mum engaged, kitchen tidy."}
        keyed = {**headers, "idempotency-key": uuid.uuid4().hex}
        return await client.post(f"/api/v1/children/{child}/posts", json=body, headers=keyed)
    if kind == "feed":
        return await client.get(f"/api/v1/children/{child}/posts?limit=20", headers=headers)
    return await client.get("/api/v1/children", headers=headers)


@dataclass
class Measured:
    requests: Counter[str]
    wall: float
    app_cpu: float
    db_cpu: float
    failed: int


async def _drive(
    client: httpx.AsyncClient, kinds: list[str], people: list[tuple[dict[str, str], range]]
) -> int:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for kind in kinds:
        queue.put_nowait(kind)
    failed = 0
    rng = random.Random(11)

    async def worker() -> None:
        nonlocal failed
        while not queue.empty():
            kind = queue.get_nowait()
            headers, children = rng.choice(people)
            answer = await _request(client, kind, headers, rng.choice(children))
            failed += answer.status_code >= 400

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return failed


async def run_day(url: str, children: int, professionals: int, day: Day) -> Measured:
    app = create_app(load_settings(app_env(url)))
    side = await asyncpg.connect(url)
    managers = max(1, professionals // 50)
    chosen = list(range(managers, professionals, max(1, (professionals - managers) // 12)))[:12]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            tokens = await _tokens(client, [f"p{n}@load.test" for n in chosen])
            people = [
                (token, caseload(n, children, managers))
                for token, n in zip(tokens, chosen, strict=True)
            ]
            await _drive(client, ["feed"] * 40, people)  # warm the pools and caches
            pids = await backends(side)
            before_db, before_app = backend_cpu(pids), time.process_time()
            started = time.perf_counter()
            failed = await _drive(client, day.requests(), people)
            wall = time.perf_counter() - started
            app_cpu = time.process_time() - before_app
            after = backend_cpu(pids | await backends(side))
    db_cpu = sum(after[pid] - before_db.get(pid, 0.0) for pid in after)
    await side.close()
    counted = Counter(day.requests())
    return Measured(counted, wall, app_cpu, db_cpu, failed)


def _per_second(per_day: float, nation: Nation = NATIONAL) -> float:
    """The peak hour's rate, per second, of something that happens `per_day` times."""
    return per_day / (nation.working_hours * 3600) * nation.peak_factor


def report(
    measured: Measured,
    written: dict[str, tuple[int, int]],
    wal: int,
    children: int,
    authorities: int,
) -> list[str]:
    total = sum(measured.requests.values())
    app_ms, db_ms = measured.app_cpu / total * 1000, measured.db_cpu / total * 1000
    scale = NATIONAL.open_children / children
    posts = measured.requests["post"]
    lines = [
        f"Scaled day: {authorities} authorities, {children:,} open children "
        f"(1/{scale:,.0f} of {NATIONAL.open_children:,}), {total:,} requests "
        f"({posts:,} posts, {measured.requests['feed']:,} feed reads, "
        f"{measured.requests['caseload']:,} caseload reads) in {measured.wall:.1f} s wall, "
        f"{measured.failed} failed.",
        f"  throughput here: {total / measured.wall:.0f} req/s on a shared box "
        f"(load average {os.getloadavg()[0]:.1f})",
        f"  app tier: {app_ms:.2f} ms CPU per request -> {1000 / app_ms:.0f} req/s per core",
        f"  database tier: {db_ms:.2f} ms CPU per request -> {1000 / db_ms:.0f} req/s per core",
    ]
    for table, (size, rows) in written.items():
        per = size / rows if rows else 0
        lines.append(f"  {table}: {rows:,} rows, {size / 1e6:.1f} MB, {per:.0f} bytes per row")
    events = written["event"][1]
    audit_rows = written["audit_record"][1]
    lines.append(f"  WAL: {wal / 1e6:.1f} MB ({wal / total:.0f} bytes per request; cluster-wide)")
    national_requests = total * scale
    peak = _per_second(national_requests)
    lines += [
        f"National day (x{scale:,.0f}):",
        f"  requests: {national_requests:,.0f} a day, {peak:,.0f}/s at the peak hour",
        f"  events: {events * scale:,.0f} a day, {_per_second(events * scale):,.0f}/s at peak",
        f"  audit rows: {audit_rows * scale:,.0f} a day, "
        f"{audit_rows * scale * NATIONAL.working_days / 1e6:,.0f} million a year",
        f"  app cores at peak: {peak * app_ms / 1000:,.1f}; "
        f"database cores at peak: {peak * db_ms / 1000:,.1f}",
    ]
    for table in ("post", "audit_record", "event"):
        size, rows = written[table]
        per_day = (size / rows if rows else 0) * (rows if table != "post" else posts) * scale
        lines.append(
            f"  {table} storage: {per_day / 1e9:,.2f} GB a day, "
            f"{per_day * NATIONAL.working_days / 1e9:,.0f} GB a year"
        )
    lines.append(f"  WAL: {wal * scale / 1e9:,.1f} GB a day")
    return lines


async def _measure_tables(
    url: str, before: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    conn = await asyncpg.connect(url)
    try:
        found: dict[str, tuple[int, int]] = {}
        for table in ("post", "event", "audit_record"):
            size, rows = await table_bytes(conn, table)
            if table == "post":
                found[table] = (size, rows)  # bytes per post over every post, old and new
            else:
                found[table] = (size - before[table][0], rows - before[table][1])
        return found
    finally:
        await conn.close()


async def main_async(authorities: int, per_authority: int, history: int, keep: bool) -> None:
    children = authorities * per_authority
    professionals = max(60, children // 5)
    url = await create_database("jigsaw_national")
    try:
        await migrate_database(url)
        print(f"Seeding {children:,} children, {professionals:,} professionals ...")
        await seed(url, children, professionals, history)
        conn = await asyncpg.connect(url)
        before = {t: await table_bytes(conn, t) for t in ("event", "audit_record")}
        wal_before = await conn.fetchval("SELECT pg_current_wal_lsn()")
        await conn.close()
        day = Day.for_children(children)
        measured = await run_day(url, children, professionals, day)
        conn = await asyncpg.connect(url)
        wal = int(await conn.fetchval("SELECT pg_current_wal_lsn() - $1::pg_lsn", wal_before))
        await conn.close()
        written = await _measure_tables(url, before)
        for line in report(measured, written, wal, children, authorities):
            print(line)
    finally:
        if keep:
            print(f"Kept {url}")
        else:
            await drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--authorities", type=int, default=4)
    parser.add_argument("--children", type=int, default=300, help="open children per authority")
    parser.add_argument("--history", type=int, default=20_000, help="posts already there (90 days)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    asyncio.run(main_async(args.authorities, args.children, args.history, args.keep))


if __name__ == "__main__":
    main()
