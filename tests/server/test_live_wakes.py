"""A commit wakes the live hub once: on PostgreSQL by its NOTIFY (which every worker
hears), on SQLite by the in-process wake-up; never by both, which ran the hub's read of
the event log twice per post."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette

from feeds import events
from feeds.audit import SYSTEM
from feeds.feed.posting import do_create_post
from server.live import Hub
from tests.conftest import Factory

BOUND = 10.0  # seconds


async def settled(hub: Hub) -> None:
    """Wait until the hub has dispatched every committed event."""
    for _ in range(int(BOUND / 0.05)):
        if hub.position >= await events.latest_event_id():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the hub did not reach the newest event")


async def test_a_post_wakes_the_hub_once(app: Starlette, make: Factory) -> None:
    """Wake-ups, not pumps, are counted: two wake-ups close together often fold into one
    pump, but not always (with the velocity watcher running, 28 of 40 posts pumped twice)."""
    await app.state.velocity.stop()  # its verdict announcements are commits of their own
    child = await make.child()
    author = await make.practitioner(grants=[child])
    hub: Hub = app.state.hub
    await settled(hub)
    wakes = 0
    wake = hub.loop.wake

    def counted() -> None:
        nonlocal wakes
        wakes += 1
        wake()

    hub.loop.wake = counted  # type: ignore[method-assign]
    await do_create_post(author, child.id, "update", "Visited after school", SYSTEM)
    await settled(hub)
    await asyncio.sleep(0.3)  # a second wake-up, were there one, arrives meanwhile

    assert wakes == 1
