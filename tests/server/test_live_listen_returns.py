"""On PostgreSQL the live hub hears other workers' commits through LISTEN. When its
listening connection drops (a restart, a failover, an idle-connection killer), the hub
must listen again by itself: until it does, other workers' posts reach this worker's
sockets only at the next poll, and before this test it never listened again."""

from __future__ import annotations

import asyncio

import asyncpg
from starlette.applications import Starlette

from feeds import events
from server.live import SESSION_CHECK_EVERY, Hub
from tests import db_backends

pytestmark = db_backends.postgres_only("LISTEN exists on PostgreSQL only")

BOUND = 10.0  # seconds


async def _woken_by_notify(hub: Hub, database_url: str) -> bool:
    """Does a NOTIFY from another connection (another worker's commit) wake the hub?"""
    woken = asyncio.Event()
    wake = hub.loop.wake

    def counted() -> None:
        woken.set()
        wake()

    hub.loop.wake = counted  # type: ignore[method-assign]
    other = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        await other.execute(f"NOTIFY {events.NOTIFY_CHANNEL}")
        await asyncio.wait_for(woken.wait(), SESSION_CHECK_EVERY)
        return True
    except TimeoutError:
        return False
    finally:
        hub.loop.wake = wake  # type: ignore[method-assign]
        await other.close()


async def test_the_hub_listens_again_after_its_connection_drops(
    app: Starlette, database_url: str
) -> None:
    hub: Hub = app.state.hub
    assert await _woken_by_notify(hub, database_url)
    admin = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
        )
    finally:
        await admin.close()
    heard_again = False
    for _ in range(int(BOUND / SESSION_CHECK_EVERY)):  # noticed by the hub's housekeeping
        if heard_again := await _woken_by_notify(hub, database_url):
            break

    assert heard_again
