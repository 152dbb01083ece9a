"""Search benchmark: index N generated posts over M children, then time searches.

Usage::

    python -m loadtests.search_bench [--posts N] [--children M] [--backends sqlite,postgres]
                                     [--queries Q] [--pg-url URL] [--seed S]
                                     [--pg-database NAME] [--detail]

The full run of issue 4 is ``--posts 1000000 --children 20000``. For each backend a
fresh database is created and migrated (PostgreSQL: a database of its own, dropped at
the end), posts are inserted in bulk (not timed), then ``search.outbox.reindex`` builds
the index (timed: posts/s). Latency is timed two ways for a practitioner allowed 50
children and a manager allowed 2,000 (through a team grant): the engine alone, and the
whole ``do_search`` (access policy, engine, database re-check, audit record).

``--backends postgres`` runs PostgreSQL only. ``--pg-database NAME`` keeps the database:
the first run creates and seeds it, later runs reuse it (pending migrations are applied,
nothing is re-seeded or re-indexed), so a change can be measured before and after against
the same million posts; drop it by hand afterwards. ``--detail`` adds a p95 per query and
order.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise
from tortoise.connection import get_connection

from feeds.audit.records import AuditContext
from feeds.db import migrate_database, tortoise_config
from feeds.demo.text import TEMPLATES
from feeds.models import Agency, Child, Grant, Post, Professional, Sector, Team, TeamMember
from search.base import SearchIndex, SearchParams, SearchQuery
from search.outbox import reindex
from search.service import do_search, make_index

NAMES = [
    "Ava",
    "Ben",
    "Cara",
    "Dan",
    "Ella",
    "Finn",
    "Grace",
    "Harry",
    "Isla",
    "Jack",
    "Kai",
    "Lily",
    "Mia",
    "Noah",
    "Owen",
    "Ruby",
]
FILL = {
    "child": "Ava",
    "sibling": "Finn",
    "mum": "Mum",
    "partner": "her partner",
    "school": "Northgate Primary",
    "gp": "Dr Shah",
    "day": "Monday",
    "time": "10:00",
    "appt": "clinic",
}
QUERIES = ["visit", "school", '"home visit"', "boyf", "mum cancelled", "neighbour shouting"]
AGENCIES, AUTHORS, BATCH = 6, 300, 5000
CTX = AuditContext(request_id="bench")


@dataclass
class Timings:
    samples: list[float]

    def line(self, label: str) -> str:
        ms = sorted(s * 1000 for s in self.samples)

        def pick(q: float) -> float:
            return ms[min(len(ms) - 1, int(q * len(ms)))]

        return (
            f"  {label:<34} p50 {pick(0.50):7.2f} ms  p95 {pick(0.95):7.2f} ms  "
            f"p99 {pick(0.99):7.2f} ms  (n={len(ms)}, mean {statistics.fmean(ms):.2f})"
        )


def progress_bar(label: str) -> Callable[[int, int], None]:
    started = time.perf_counter()

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        rate = done / max(time.perf_counter() - started, 1e-9)
        sys.stderr.write(
            f"\r  {label:<10} [{'#' * filled}{'.' * (width - filled)}] "
            f"{done:>9,}/{total:,} ({rate:,.0f}/s)"
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def texts(rng: random.Random) -> list[str]:
    lines = [t for voice in TEMPLATES.values() for group in voice.values() for t in group]
    return [line.format(**FILL) for line in lines]


async def seed_people(children: int) -> tuple[list[int], list[int], Professional, Professional]:
    agencies = [
        await Agency.create(name=f"Bench agency {i}", sector=Sector.SOCIAL_CARE)
        for i in range(AGENCIES)
    ]
    conn = get_connection("default")
    now = datetime.now(UTC)
    await Professional.bulk_create(
        [
            Professional(
                email=f"author{i}@bench.test",
                name=f"{NAMES[i % len(NAMES)]} Author{i}",
                handle=f"author{i}",
                agency=agencies[i % AGENCIES],
                password_hash="!bench-no-login",  # noqa: S106 - not a hash: nobody logs in
            )
            for i in range(AUTHORS + 2)
        ],
        batch_size=1000,
    )
    await Child.bulk_create(
        [Child(display_name=f"Child {i}", reference=f"B-{i:07d}") for i in range(children)],
        batch_size=5000,
    )
    del conn, now
    people = await Professional.all().order_by("id")
    child_ids = [c["id"] for c in await Child.all().order_by("id").values("id")]
    return child_ids, [p.id for p in people[:AUTHORS]], people[AUTHORS], people[AUTHORS + 1]


async def seed_posts(posts: int, child_ids: list[int], author_ids: list[int], seed: int) -> None:
    rng = random.Random(seed)
    lines = texts(rng)
    vocabulary = [f"w{n:05d}" for n in range(20_000)]  # a Zipf-ish tail of rare words
    conn = get_connection("default")
    pg = conn.capabilities.dialect == "postgres"
    marks = "$1, $2, $3, $4, $5" if pg else "?, ?, ?, ?, ?"
    sql = f"INSERT INTO post (child_id, author_id, kind, body, created_at) VALUES ({marks})"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    show = progress_bar("insert")
    kinds = ["update", "visit", "hunch", "concern", "positive"]
    for offset in range(0, posts, BATCH):
        rows: list[list[object]] = []
        for i in range(offset, min(posts, offset + BATCH)):
            rare = vocabulary[int(rng.paretovariate(1.1)) % len(vocabulary)]
            body = f"{rng.choice(lines)} {rare}"
            when = start + timedelta(minutes=i * 525_600 // max(posts, 1))
            stamp: object = when if pg else when.isoformat(" ")
            rows.append([rng.choice(child_ids), rng.choice(author_ids), rng.choice(kinds), body])
            rows[-1].append(stamp)
        await conn.execute_many(sql, rows)
        show(min(posts, offset + BATCH), posts)


async def grant_viewers(
    child_ids: list[int], practitioner: Professional, manager: Professional
) -> None:
    rng = random.Random(7)
    await Grant.bulk_create(
        [Grant(child_id=c, professional=practitioner) for c in rng.sample(child_ids, 50)]
    )
    team = await Team.create(name="Bench team", agency_id=manager.agency_id)
    await TeamMember.create(team=team, professional=manager, is_manager=True)
    wide = rng.sample(child_ids, min(2000, len(child_ids)))
    await Grant.bulk_create([Grant(child_id=c, team=team) for c in wide], batch_size=1000)


async def timed(work: Callable[[], Awaitable[object]], repeats: int) -> Timings:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return Timings(samples)


async def latency(
    index: SearchIndex, who: Professional, label: str, queries: int, detail: bool = False
) -> list[str]:
    from feeds.access.policy import visible_child_ids

    allowed = frozenset(await visible_child_ids(who))
    per_query = max(1, queries // len(QUERIES))
    engine, full, lines = [], [], []
    orders: tuple[Literal["newest", "relevance"], ...] = ("newest", "relevance")
    for order in orders:
        for text in QUERIES:
            query = SearchQuery(text=text, child_ids=allowed, order=order, limit=20)
            params = SearchParams(text=text, order=order, limit=20)
            await index.search(query)  # warm
            alone = await timed(functools.partial(index.search, query), per_query)
            engine += alone.samples
            asked = functools.partial(do_search, index, who, params, CTX)
            full += (await timed(asked, per_query)).samples
            lines.append(alone.line(f"    engine {order} {text}"))
    return [
        Timings(engine).line(f"{label} ({len(allowed)} children), engine"),
        Timings(full).line(f"{label} ({len(allowed)} children), do_search"),
        *(lines if detail else []),
    ]


async def seed_and_index(index: SearchIndex, args: argparse.Namespace) -> str:
    child_ids, author_ids, practitioner, manager = await seed_people(args.children)
    await seed_posts(args.posts, child_ids, author_ids, args.seed)
    await grant_viewers(child_ids, practitioner, manager)
    started = time.perf_counter()
    indexed = await reindex(index, progress_bar("index"), batch=2000)
    elapsed = time.perf_counter() - started
    return (
        f"{index.name}: indexed {indexed:,} posts in {elapsed:.1f} s "
        f"({indexed / elapsed:,.0f} posts/s)"
    )


async def viewers() -> tuple[Professional, Professional]:
    """The practitioner and the manager seed_people made (the two after the authors)."""
    people = await Professional.filter(email__startswith="author").order_by("id")
    return people[AUTHORS], people[AUTHORS + 1]


async def run_backend(url: str, args: argparse.Namespace, reuse: bool = False) -> list[str]:
    await migrate_database(url)
    await Tortoise.init(config=tortoise_config(url))
    try:
        index = make_index(url)
        await index.ensure_ready()
        if reuse:
            posts = await Post.all().count()
            out = [f"{index.name}: reused database with {posts:,} posts (not re-indexed)"]
        else:
            out = [await seed_and_index(index, args)]
        practitioner, manager = await viewers()
        out += await latency(index, practitioner, "practitioner", args.queries, args.detail)
        out += await latency(index, manager, "manager", args.queries, args.detail)
        return out
    finally:
        await Tortoise.close_connections()


def _pg_database(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


async def _pg_admin(base: str, sql: str) -> None:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_exists(base: str, name: str) -> bool:
    conn = await asyncpg.connect(base)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def run_kept(args: argparse.Namespace) -> list[str]:
    """PostgreSQL in a named database that is kept: seeded once, reused after."""
    name = args.pg_database
    if await _pg_exists(args.pg_url, name):
        return await run_backend(_pg_database(args.pg_url, name), args, reuse=True)
    await _pg_admin(args.pg_url, f'CREATE DATABASE "{name}"')
    return await run_backend(_pg_database(args.pg_url, name), args)


async def run_one(backend: str, args: argparse.Namespace) -> list[str]:
    print(f"== {backend}", file=sys.stderr)
    if backend != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            return await run_backend(f"sqlite://{Path(tmp) / 'bench.sqlite3'}", args)
    if args.pg_database:
        return await run_kept(args)
    name = f"jigsaw_bench_{uuid.uuid4().hex[:8]}"
    await _pg_admin(args.pg_url, f'CREATE DATABASE "{name}"')
    try:
        return await run_backend(_pg_database(args.pg_url, name), args)
    finally:
        await _pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    """One process per backend: Tortoise caches SQL with the first backend's placeholders."""
    args = parse_args(argv)
    backends = args.backends.split(",")
    if len(backends) == 1:
        print("\n".join(asyncio.run(run_one(backends[0], args))))
        return
    print(
        f"search_bench: {args.posts:,} posts over {args.children:,} children; per actor "
        f"{args.queries} timed searches per order (newest, relevance) over {QUERIES}"
    )
    for backend in backends:
        command = [sys.executable, "-m", "loadtests.search_bench", "--backends", backend]
        out = subprocess.run(  # noqa: S603 - our own module with our own arguments
            [*command, *_without_backends(argv or sys.argv[1:])],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        print(out.stdout.rstrip(), flush=True)


def _without_backends(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--backends":
            skip = True
        elif not arg.startswith("--backends="):
            out.append(arg)
    return out


def database_name(text: str) -> str:
    """A plain identifier: it is quoted into CREATE DATABASE."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", text):
        raise argparse.ArgumentTypeError("use lower-case letters, digits and underscores")
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--children", type=int, default=2_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--pg-database",
        default=None,
        type=database_name,
        help="keep PostgreSQL's data in this database: seeded when absent, reused when present",
    )
    parser.add_argument("--detail", action="store_true", help="also a p95 per query and order")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
