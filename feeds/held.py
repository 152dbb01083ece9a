"""Statements straight to asyncpg on a connection the request already holds.

Inside `raw_sql.one_connection()` or a transaction, Tortoise's client wraps every statement
in three layers (exception translation, its statement method, a connection wrapper that
takes the lock and logs) before asyncpg's own call; on a feed read those layers cost
about as much CPU as asyncpg itself. The connection is already held, so this runs the
statement on it directly, keeping the two things the layers are for: the client's lock
(statements of one task group never interleave on one connection) and Tortoise's
exception translation (an IntegrityError is still an IntegrityError; server/errors.py
answers it). A client that holds no connection (the pool, SQLite) keeps the ORM's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient


def held_connection(client: BaseDBAsyncClient) -> bool:
    """True for an asyncpg client holding one connection (pinned or in a transaction)."""
    return (
        isinstance(client, TransactionalDBClient)
        and client.capabilities.dialect == "postgres"
        and type(getattr(client, "_connection", None)).__module__.startswith("asyncpg")
    )


async def fetch(client: Any, sql: str, params: Sequence[Any]) -> Sequence[Any]:
    """The rows of one statement (`$n` parameters) on the client's held connection."""
    rows: Sequence[Any] = await client._translate_exceptions(_fetch, sql, params)
    return rows


async def execute(client: Any, sql: str, params: Sequence[Any]) -> int:
    """Run one UPDATE or DELETE; the rows it changed, as Tortoise's `execute_query` counts."""
    changed: int = await client._translate_exceptions(_execute, sql, params)
    return changed


async def _fetch(client: Any, sql: str, params: Sequence[Any]) -> Sequence[Any]:
    async with client._lock:
        return await client._connection.fetch(sql, *params)  # type: ignore[no-any-return]


async def _execute(client: Any, sql: str, params: Sequence[Any]) -> int:
    if not sql.lstrip().upper().startswith(("UPDATE", "DELETE", "INSERT")):
        return len(await _fetch(client, sql, params))
    async with client._lock:
        status = await client._connection.execute(sql, *params)
    try:
        return int(status.split(" ")[1])
    except (AttributeError, IndexError, ValueError):
        return 0
