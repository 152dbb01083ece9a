"""One pooled connection for a block of statements (PostgreSQL), instead of one per statement.

Tortoise takes a connection from the pool for every statement run outside a transaction
and gives it back after; asyncpg's release runs in a task of its own (`asyncio.shield`).
A feed read makes five statements, so five acquire/release pairs and five tasks: together
more CPU than the statements' own work in this process (loadtests/cpu_ratio.py). Inside
`one_connection()` every statement of the current task runs on one connection, each still
committing by itself; `in_transaction()` inside starts a real transaction on that
connection (BEGIN ... COMMIT, rolled back on an error), as it would outside.

Only for request handlers that start no background task of their own: a task created
inside would inherit the connection, which goes back to the pool when the block ends.
SQLite (one connection anyway) and a block already inside a transaction are left as
they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient


def _pinned_class() -> Any:
    # Imported late: asyncpg's client is only needed (and importable) with PostgreSQL.
    from tortoise.backends.asyncpg.client import TransactionWrapper

    class Pinned(TransactionWrapper):
        """A pooled connection held for a block, outside any transaction: statements
        commit one by one; a nested `in_transaction()` begins a top-level transaction."""

    return Pinned


@asynccontextmanager
async def one_connection() -> AsyncIterator[None]:
    """Run the block's statements (this task's) on one connection from the pool."""
    client = connections.get("default")
    pool = getattr(client, "_pool", None)
    if (
        client.capabilities.dialect != "postgres"
        or isinstance(client, TransactionalDBClient)
        or pool is None
    ):
        yield
        return
    pinned = _pinned_class()(client)
    pinned._connection = await pool.acquire()
    token = connections.set("default", pinned)
    try:
        yield
    finally:
        connections.reset(token)
        await pool.release(pinned._connection)
