"""Every statement the current task sends PostgreSQL through asyncpg, recorded as sent
(transaction BEGIN and COMMIT included): the round trips a request costs, whatever layer
issued them. Other tasks' statements (the live hub's, the sealer's, the outbox's) are left
out. For benchmarks only: it patches asyncpg's Connection while inside."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg


@contextmanager
def recording() -> Iterator[list[str]]:
    """The current task's statements while inside, in order, as text."""
    connection = asyncpg.connection.Connection
    execute, run, many = connection.execute, connection._execute, connection._executemany
    task, sent = asyncio.current_task(), []

    def note(query: str) -> None:
        if asyncio.current_task() is task:
            sent.append(query)

    async def recorded_execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if not args:  # with arguments it goes through _execute, recorded there
            note(query)
        return await execute(self, query, *args, **kw)

    async def recorded_run(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        note(query)
        return await run(self, query, *args, **kw)

    async def recorded_many(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        note(query)
        return await many(self, query, *args, **kw)

    connection.execute, connection._execute = recorded_execute, recorded_run
    connection._executemany = recorded_many
    try:
        yield sent
    finally:
        connection.execute, connection._execute = execute, run
        connection._executemany = many
