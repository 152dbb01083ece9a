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
        await tally_days(conn)
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


# The daily tallies posting keeps (feeds/activity_days.py), recounted in SQL after COPY:
# one GROUP BY per counted key, joined on (child, day).
_COUNTS = (
    "SELECT child_id, day, jsonb_object_agg(key, n) AS j FROM (SELECT child_id, day, {key} "
    "AS key, count(*) AS n FROM p {where} GROUP BY 1, 2, 3) t GROUP BY 1, 2"
)
# Built from the constant fragments above; no input reaches it.
TALLY_SQL = f"""
WITH p AS MATERIALIZED (
    SELECT p.child_id, (p.created_at AT TIME ZONE 'UTC')::date AS day, p.kind,
           p.author_id::text AS author, a.name AS agency, p.created_at
    FROM post p JOIN professional r ON r.id = p.author_id JOIN agency a ON a.id = r.agency_id
    WHERE p.removed_at IS NULL
),
base AS (SELECT child_id, day, count(*) AS posts, max(created_at) AS last FROM p GROUP BY 1, 2),
k AS ({_COUNTS.format(key="kind", where="")}),
au AS ({_COUNTS.format(key="author", where="")}),
ag AS ({_COUNTS.format(key="agency", where="")}),
ca AS ({_COUNTS.format(key="author", where="WHERE kind IN ('hunch', 'concern')")}),
cg AS ({_COUNTS.format(key="agency", where="WHERE kind IN ('hunch', 'concern')")})
INSERT INTO child_activity_day (child_id, day, posts, by_kind, authors, agencies,
                                concern_authors, concern_agencies, last_post_at)
SELECT base.child_id, base.day, base.posts, k.j, au.j, ag.j,
       COALESCE(ca.j, '{{}}'::jsonb), COALESCE(cg.j, '{{}}'::jsonb), base.last
FROM base
JOIN k USING (child_id, day) JOIN au USING (child_id, day) JOIN ag USING (child_id, day)
LEFT JOIN ca USING (child_id, day) LEFT JOIN cg USING (child_id, day)
"""


async def tally_days(conn: asyncpg.Connection) -> int:
    """Fill child_activity_day from the COPYed posts (COPY bypasses posting's tally)."""
    await conn.execute("DELETE FROM child_activity_day")
    async with conn.transaction():
        # The five GROUP BYs over a million rows spill to disk at the default 4 MB.
        await conn.execute("SET LOCAL work_mem = '256MB'")
        status = await conn.execute(TALLY_SQL)
    rows = int(status.split()[-1])
    print(f"  daily tallies: {rows:,} child-days")
    return rows
