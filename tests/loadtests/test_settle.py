"""Between measured runs the load runner settles the database (loadtests/run.py `settle`),
so that no run pays for what an earlier one left. The bare app writes audit rows and search
outbox rows as Jigsaw does but never seals or indexes them: left there, the next Jigsaw
run's sealer and search drainer did the bare run's work inside Jigsaw's measured window.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from feeds.audit.records import _INSERT_SQL as AUDIT_SQL
from tests.db_backends import create_postgres_database, drop_postgres_database, postgres_only

pytestmark = postgres_only("the load runner needs PostgreSQL: it runs in the PostgreSQL pass")
ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=300)


@pytest.fixture
def seeded() -> Iterator[str]:
    url = create_postgres_database()
    try:
        _python(
            f"import asyncio; from loadtests.seed import seed; asyncio.run(seed({url!r}, 4, 3, 20))"
        )
        yield url
    finally:
        drop_postgres_database(url)


async def _leave_what_a_bare_run_leaves(url: str) -> int:
    """An unsealed audit row and a pending outbox row for a new post, as the bare app's
    post writes them; returns the post's id."""
    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        author = await conn.fetchval("SELECT id FROM professional ORDER BY id LIMIT 1")
        post = await conn.fetchval(
            "INSERT INTO post (child_id, author_id, kind, body, created_at, idempotency_key,"
            " request_fingerprint) VALUES (1, $1, 'update', 'settled quokka', $2, NULL, '')"
            " RETURNING id",
            author,
            now,
        )
        await conn.execute(
            "INSERT INTO search_outbox (created_at, post_id, child_id, op, attempts, last_error)"
            " VALUES ($1, $2, 1, 'index', 0, '')",
            now,
            post,
        )
        await conn.fetchval(
            AUDIT_SQL, now, author, "bare@load.test", "post.create", 1, "ok", "", "", json.dumps({})
        )
        return int(post)
    finally:
        await conn.close()


async def _left_over(url: str, post: int) -> tuple[int, int, int]:
    conn = await asyncpg.connect(url)
    try:
        unsealed = await conn.fetchval("SELECT count(*) FROM audit_record WHERE seq IS NULL")
        pending = await conn.fetchval(
            "SELECT count(*) FROM search_outbox WHERE processed_at IS NULL"
        )
        indexed = await conn.fetchval("SELECT count(*) FROM search_doc WHERE post_id = $1", post)
        return int(unsealed), int(pending), int(indexed)
    finally:
        await conn.close()


async def test_settle_seals_and_indexes_what_the_last_run_left(seeded: str) -> None:
    post = await _leave_what_a_bare_run_leaves(seeded)
    unsealed, pending, indexed = await _left_over(seeded, post)
    assert (unsealed, pending, indexed) == (1, 1, 0)

    _python(f"import asyncio; from loadtests.run import settle; asyncio.run(settle({seeded!r}))")

    assert await _left_over(seeded, post) == (0, 0, 1)
