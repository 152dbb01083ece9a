"""The hub's own rules: event-log retention and bounded per-socket queues."""

from __future__ import annotations

from datetime import timedelta

from starlette.applications import Starlette

from feeds.clock import utcnow
from feeds.models import Event
from server.live import Subscriber, prune_events
from server.settings import load_settings
from tests.conftest import Factory


async def test_events_older_than_the_retention_window_are_pruned(app: Starlette) -> None:
    old = await Event.create(type="post.created", child_id=1, payload={})
    await Event.filter(id=old.id).update(created_at=utcnow() - timedelta(days=40))
    recent = await Event.create(type="post.created", child_id=1, payload={})
    assert await prune_events(timedelta(days=30)) == 1
    assert [e.id for e in await Event.all()] == [recent.id]


def test_retention_is_configurable() -> None:
    settings = load_settings({"JIGSAW_EVENT_RETENTION_DAYS": "3"}, demo=True)
    assert settings.event_retention == timedelta(days=3)


async def test_a_subscriber_that_falls_behind_is_closed_not_waited_for(
    app: Starlette, make: Factory
) -> None:
    subscriber = Subscriber(user=await make.professional())
    for n in range(subscriber.queue.maxsize + 1):
        subscriber.offer({"id": n})
    assert subscriber.closed_reason == "behind"
    assert subscriber.queue.qsize() == 1 and subscriber.queue.get_nowait() is None
