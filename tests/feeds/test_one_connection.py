"""One pooled connection for a request's statements (raw_sql.one_connection): each statement still
commits by itself, a transaction inside begins and commits (or rolls back) on that
connection, and the connection goes back to the pool afterwards."""

from __future__ import annotations

import asyncpg
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from feeds import raw_sql
from feeds.models import Agency
from feeds.raw_sql import one_connection
from tests import db_backends
from tests.conftest import Factory

pytestmark = pytest.mark.skipif(
    db_backends.backend() != "postgres", reason="SQLite has one connection anyway"
)


async def _pid() -> int:
    return int((await raw_sql.fetch("SELECT pg_backend_pid()"))[0][0])


async def _others_see(database_url: str, name: str) -> bool:
    """Whether a separate connection sees the agency `name` (it was committed)."""
    other = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        return bool(await other.fetchval("SELECT count(*) FROM agency WHERE name = $1", name))
    finally:
        await other.close()


async def test_statements_share_one_connection_and_each_commits(
    make: Factory, database_url: str
) -> None:
    async with one_connection():
        first, second = await _pid(), await _pid()
        await Agency.create(name="Pinned agency", sector="health")
        assert await _others_see(database_url, "Pinned agency")  # committed at once
    assert first == second


async def test_a_transaction_inside_commits_or_rolls_back_on_the_same_connection(
    make: Factory, database_url: str
) -> None:
    async with one_connection():
        outside = await _pid()
        async with in_transaction():
            assert await _pid() == outside
            await Agency.create(name="Kept agency", sector="health")
        with pytest.raises(RuntimeError):
            async with in_transaction():
                await Agency.create(name="Rolled back agency", sector="health")
                raise RuntimeError("the block fails")
        await Agency.create(name="After agency", sector="health")  # the connection works
    for name, kept in (
        ("Kept agency", True),
        ("Rolled back agency", False),
        ("After agency", True),
    ):
        assert await _others_see(database_url, name) == kept, name


async def test_the_connection_goes_back_to_the_pool(make: Factory) -> None:
    pool = connections.get("default")._pool
    idle = pool.get_idle_size()
    async with one_connection():
        assert pool.get_idle_size() == idle - 1 or idle == 0
        await _pid()
    assert pool.get_idle_size() >= idle
