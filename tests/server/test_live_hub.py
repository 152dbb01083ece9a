"""The hub's own rules: event-log retention, bounded per-socket queues, indexed fan-out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from feeds import events
from feeds.access.policy import visible_child_ids
from feeds.clock import utcnow
from feeds.models import Event
from server.live import Hub, Subscriber, prune_events
from server.settings import Settings, load_settings
from tests.conftest import Factory


async def test_events_older_than_the_retention_window_are_pruned(app: Starlette) -> None:
    old = await Event.create(type="post.created", child_id=1, payload={})
    await Event.filter(id=old.id).update(created_at=utcnow() - timedelta(days=40))
    recent = await Event.create(type="post.created", child_id=1, payload={})
    # The hub prunes on its own too (at start, then every 10 minutes), so the outcome is
    # asserted, not this call's count.
    await prune_events(timedelta(days=30))
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


async def test_a_grant_change_rereads_visibility_only_for_the_people_it_touches(
    app: Any, make: Factory, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """Work in proportion to the people a grant affects, not to the sockets open."""
    from feeds.access.grants import do_grant
    from feeds.audit import SYSTEM

    child = await make.child()
    lead = await make.manager_of(child)
    newcomer = await make.professional()
    bystanders = [await make.practitioner(grants=[child]) for _ in range(30)]
    hub = Hub(settings.database_url)
    hub.position = await events.latest_event_id()
    for person in [*bystanders, newcomer]:
        hub.subscribe(Subscriber(user=person, visible=await visible_child_ids(person)))
    reread: list[int] = []
    original = hub.refresh

    async def counted(subscriber: Subscriber) -> None:
        reread.append(subscriber.user.id)
        await original(subscriber)

    monkeypatch.setattr(hub, "refresh", counted)
    await do_grant(lead, child.id, SYSTEM, professional_id=newcomer.id)
    await hub.pump()
    assert reread == [newcomer.id]
    newcomer_socket = next(s for s in hub.subscribers if s.user.id == newcomer.id)
    assert child.id in newcomer_socket.visible
    post_event = Event(type=events.POST_CREATED, child_id=child.id, payload={})
    assert len(hub.audience(post_event)) == len(bystanders) + 1
