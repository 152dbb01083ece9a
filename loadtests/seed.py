"""Seed a migrated PostgreSQL database at load-test scale with COPY (fast, shows progress).

Every practitioner gets ~50 children by direct grant; posts are spread over 90 days.
Logins: p<n>@load.test (practitioners) and m<n>@load.test (managers), password below; each
also holds a personal access token, `load_token(n)` (capacity runs skip argon2 logins with it).
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from tortoise import Tortoise

from feeds.accounts.passwords import hash_password
from feeds.db import tortoise_config
from feeds.network.involvement import BACKFILL_SQL
from search.outbox import reindex
from search.service import make_index
from server.auth import TOKEN_PREFIX, digest

PASSWORD = "load-test-password"  # noqa: S105 - fictional load-test accounts
CHILDREN_PER_PRACTITIONER = 50
CHILDREN_PER_MANAGER = 2000


def _progress(stage: str, done: int, total: int) -> None:
    sys.stdout.write(f"\r  {stage}: {done:,}/{total:,}")
    sys.stdout.flush()
    if done >= total:
        sys.stdout.write("\n")


async def seed(url: str, children: int, professionals: int, posts: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    conn = await asyncpg.connect(url)
    try:
        await _people(conn, professionals)
        await _children(conn, children)
        await _grants(conn, rng, children, professionals)
        await _posts(conn, rng, children, professionals, posts)
        await _tokens(conn, professionals)
        await conn.execute(BACKFILL_SQL)  # the agency around each child, as posting keeps it
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    await index_for_search(url)


async def index_for_search(url: str) -> None:
    """COPY bypasses posting's search outbox rows: build the index from the posts, as
    `jigsaw reindex` does, so searches in a load test run against every post."""
    await Tortoise.init(config=tortoise_config(url))
    try:
        index = make_index(url)
        await index.ensure_ready()
        await reindex(index, lambda done, total: _progress("search index", done, total), 5000)
    finally:
        await Tortoise.close_connections()


async def _people(conn: asyncpg.Connection, professionals: int) -> None:
    now = datetime.now(UTC)
    await conn.execute(
        "INSERT INTO agency (id, name, sector) VALUES (1, 'Load agency', 'social_care')"
    )
    secret = hash_password(PASSWORD)
    managers = max(1, professionals // 50)
    rows = [
        (
            n + 1,
            f"{'m' if n < managers else 'p'}{n}@load.test",
            f"Person {n}",
            f"person{n}",
            "Social worker",
            "manager" if n < managers else "practitioner",
            secret,
            True,
            now,
            1,
            0,
        )
        for n in range(professionals)
    ]
    await conn.copy_records_to_table(
        "professional",
        records=rows,
        columns=[
            "id",
            "email",
            "name",
            "handle",
            "job_title",
            "role",
            "password_hash",
            "is_active",
            "created_at",
            "agency_id",
            "failed_logins",
        ],
    )
    await conn.execute("SELECT setval('professional_id_seq', $1)", professionals)
    _progress("professionals", professionals, professionals)


async def _children(conn: asyncpg.Connection, children: int) -> None:
    now = datetime.now(UTC)
    rows = [(n + 1, f"Child {n}", f"L-{n:07d}", now) for n in range(children)]
    await conn.copy_records_to_table(
        "child", records=rows, columns=["id", "display_name", "reference", "created_at"]
    )
    await conn.execute("SELECT setval('child_id_seq', $1)", children)
    _progress("children", children, children)


def load_token(person: int) -> str:
    """Professional n's seeded personal access token (raw: the seed stores its hash)."""
    return f"{TOKEN_PREFIX}load-{person}"


async def _tokens(conn: asyncpg.Connection, professionals: int) -> None:
    now = datetime.now(UTC)
    rows = [
        (n + 1, "load", digest(load_token(n)), load_token(n)[:10], now, now)
        for n in range(professionals)
    ]
    await conn.copy_records_to_table(
        "api_token",
        records=rows,
        columns=["professional_id", "name", "token_hash", "prefix", "created_at", "last_used_at"],
    )


def caseload(person: int, children: int, managers: int) -> range:
    """A contiguous block of child ids for this professional (1-based ids)."""
    size = CHILDREN_PER_MANAGER if person < managers else CHILDREN_PER_PRACTITIONER
    size = min(size, children)
    start = (person * CHILDREN_PER_PRACTITIONER) % max(1, children - size + 1)
    return range(start + 1, start + size + 1)


async def _grants(
    conn: asyncpg.Connection, rng: random.Random, children: int, professionals: int
) -> None:
    now, managers = datetime.now(UTC), max(1, professionals // 50)
    rows = [
        (child, person + 1, now)
        for person in range(professionals)
        for child in caseload(person, children, managers)
    ]
    await conn.copy_records_to_table(
        "grant", records=rows, columns=["child_id", "professional_id", "created_at"]
    )
    _progress("grants", len(rows), len(rows))


async def _posts(
    conn: asyncpg.Connection, rng: random.Random, children: int, professionals: int, posts: int
) -> None:
    managers = max(1, professionals // 50)
    practitioners = range(managers, professionals)
    start = datetime.now(UTC) - timedelta(days=90)
    kinds = ["update"] * 6 + ["visit"] * 2 + ["hunch", "concern", "positive"]
    batch: list[tuple[object, ...]] = []
    tallies = Tallies()
    for n in range(posts):
        author = practitioners[n % len(practitioners)]
        child = rng.choice(caseload(author, children, managers))
        at = start + timedelta(seconds=90 * 86_400 * n / posts)
        kind = rng.choice(kinds)
        batch.append((child, author + 1, kind, f"Load-test note {n} about home", at))
        tallies.add(child, author + 1, kind, at)
        if len(batch) == 20_000 or n == posts - 1:
            await conn.copy_records_to_table(
                "post",
                records=batch,
                columns=["child_id", "author_id", "kind", "body", "created_at"],
            )
            batch.clear()
            _progress("posts", n + 1, posts)
    await copy_tallies(conn, tallies)


AGENCY = "Load agency"
CONCERNS = ("hunch", "concern")


class Tallies:
    """The daily tallies posting keeps (feeds/velocity/tallies.py), counted while the posts
    are generated, because COPY bypasses posting."""

    def __init__(self) -> None:
        self.days: dict[tuple[int, date], list[Any]] = {}

    def add(self, child: int, author: int, kind: str, at: datetime) -> None:
        key = (child, at.date())
        row = self.days.setdefault(key, [0, Counter(), Counter(), Counter(), at])
        row[0] += 1
        row[1][kind] += 1
        row[2][str(author)] += 1
        if kind in CONCERNS:
            row[3][str(author)] += 1
        row[4] = max(row[4], at)

    def records(self) -> list[tuple[object, ...]]:
        out = []
        for (child, day), (posts, kinds, authors, worried, last) in self.days.items():
            agencies = {AGENCY: posts}
            concern_agencies = {AGENCY: sum(worried.values())} if worried else {}
            counts = [kinds, authors, agencies, worried, concern_agencies]
            out.append((child, day, posts, *(json.dumps(c) for c in counts), last))
        return out


async def copy_tallies(conn: asyncpg.Connection, tallies: Tallies) -> None:
    columns = ["child_id", "day", "posts", "by_kind", "authors", "agencies"]
    columns += ["concern_authors", "concern_agencies", "last_post_at"]
    records = tallies.records()
    await conn.copy_records_to_table("child_activity_day", records=records, columns=columns)
    _progress("daily tallies", len(records), len(records))
