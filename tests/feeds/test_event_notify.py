"""On PostgreSQL the event log wakes other workers through LISTEN/NOTIFY. NOTIFY takes a
cluster-wide lock at commit, so a transaction that emits several events (a post, its
mentions, its notifications) must send one notification, not one per event."""

from __future__ import annotations

import asyncio

import asyncpg

from feeds import events
from tests import db_backends
from tests.conftest import Factory

pytestmark = db_backends.postgres_only("NOTIFY exists on PostgreSQL only")


async def _heard(database_url: str, work: int) -> list[str]:
    """Payloads a listener hears while `work` transactions of three events commit."""
    heard: list[str] = []
    listener = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    await listener.add_listener(events.NOTIFY_CHANNEL, lambda *args: heard.append(args[-1]))
    try:
        for _ in range(work):
            async with events.transaction():
                for n in range(3):
                    await events.emit(events.CHILD_ENTRY, {"n": n}, child_id=None)
        for _ in range(50):  # delivery is asynchronous: wait for it, boundedly
            if len(heard) >= work:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # and a moment more, for any extra ones
    finally:
        await listener.close()
    return heard


async def test_a_transaction_of_three_events_sends_one_notification(
    make: Factory, database_url: str
) -> None:
    heard = await _heard(database_url, work=2)

    assert len(heard) == 2  # one per transaction, not six
    assert all(payload == "" for payload in heard)  # ids never travel; listeners read the log
