"""Seed a migrated PostgreSQL database at load-test scale with COPY (fast, shows progress).

Every practitioner gets ~50 children by direct grant; posts are spread over 90 days.
Logins: p<n>@load.test (practitioners) and m<n>@load.test (managers), password below.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta

import asyncpg

from feeds.passwords import hash_password

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
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


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
    for n in range(posts):
        author = practitioners[n % len(practitioners)]
        child = rng.choice(caseload(author, children, managers))
        at = start + timedelta(seconds=90 * 86_400 * n / posts)
        batch.append((child, author + 1, rng.choice(kinds), f"Load-test note {n} about home", at))
        if len(batch) == 20_000 or n == posts - 1:
            await conn.copy_records_to_table(
                "post",
                records=batch,
                columns=["child_id", "author_id", "kind", "body", "created_at"],
            )
            batch.clear()
            _progress("posts", n + 1, posts)
