"""The hub's own rules: event-log retention, bounded per-socket queues, indexed fan-out."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette

from feeds import events
from feeds.access.policy import visible_child_ids
from feeds.clock import utcnow
from feeds.models import Event
from server.live import SEND_BACKLOG, Hub, Subscriber, prune_events
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
    subscriber = Subscriber((await make.professional()).id)
    for n in range(SEND_BACKLOG + 1):
        subscriber.offer(n, "{}")
    assert subscriber.closed_reason == "behind"
    assert not subscriber.backlog  # dropped from memory only: the client replays them


async def test_a_slow_socket_is_closed_with_a_reason_and_others_still_get_every_event(
    app: Starlette, make: Factory
) -> None:
    """The hub never waits on one socket: a reader that stops reading fills its own
    backlog and is closed as behind; a reader beside it receives everything."""
    sent: dict[str, list[str]] = {"slow": [], "quick": []}
    closed: dict[str, str] = {}
    stuck = asyncio.Event()

    def outlet(name: str) -> tuple[Any, Any]:
        async def send(text: str) -> None:
            if name == "slow":
                await stuck.wait()  # a client whose TCP window stays shut
            sent[name].append(text)

        async def close(reason: str) -> None:
            closed[name] = reason

        return send, close

    slow, quick = Subscriber(1), Subscriber(2)
    slow.attach(*outlet("slow"), upto=0)
    quick.attach(*outlet("quick"), upto=0)
    for n in range(1, SEND_BACKLOG + 3):
        slow.offer(n, f"m{n}")
        quick.offer(n, f"m{n}")
        await asyncio.sleep(0)
    stuck.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert sent["quick"] == [f"m{n}" for n in range(1, SEND_BACKLOG + 3)]
    assert sent["slow"] == ["m1"] and closed == {"slow": "behind"}
    assert "quick" not in closed


async def test_one_person_with_many_tabs_shares_one_visibility_read(
    app: Starlette, make: Factory, settings: Settings
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    hub = Hub(settings.database_url)
    tabs = [Subscriber(person.id, visible={child.id}) for _ in range(3)]
    for tab in tabs:
        hub.subscribe(tab)
    assert len({id(tab.viewer) for tab in tabs}) == 1
    post_event = Event(type=events.POST_CREATED, child_id=child.id, payload={})
    assert len(hub.audience(post_event)) == 3
    await hub.refresh_visibility({person.id})
    assert hub.visibility_reads == 1
    for tab in tabs:
        hub.unsubscribe(tab)
    assert hub.viewers == {} and hub.audience(post_event) == []


async def test_a_grant_change_rereads_visibility_only_for_the_people_it_touches(
    app: Any, make: Factory, settings: Settings
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
        for _tab in range(2):
            hub.subscribe(Subscriber(person.id, visible=await visible_child_ids(person)))
    await do_grant(lead, child.id, SYSTEM, professional_id=newcomer.id)
    await hub.pump()
    assert hub.visibility_reads == 1  # the newcomer, once for both tabs
    assert child.id in hub.viewers[newcomer.id].visible
    post_event = Event(type=events.POST_CREATED, child_id=child.id, payload={})
    assert len(hub.audience(post_event)) == 2 * (len(bystanders) + 1)


async def test_closing_a_case_rereads_visibility_only_for_those_who_could_see_it(
    app: Any, make: Factory, settings: Settings
) -> None:
    """A record-wide change (no person or team named) touches that child's viewers only."""
    from feeds.audit import SYSTEM
    from feeds.models import Role
    from feeds.records.children import do_close_child

    closing, other = await make.child(), await make.child()
    watchers = [await make.practitioner(grants=[closing]) for _ in range(3)]
    elsewhere = [await make.practitioner(grants=[other]) for _ in range(20)]
    hub = Hub(settings.database_url)
    hub.position = await events.latest_event_id()
    for person in [*watchers, *elsewhere]:
        hub.subscribe(Subscriber(person.id, visible=await visible_child_ids(person)))
    admin = await make.professional(role=Role.ADMIN)
    await do_close_child(admin, closing.id, SYSTEM)
    await hub.pump()
    assert hub.visibility_reads == len(watchers)
    post_event = Event(type=events.POST_CREATED, child_id=closing.id, payload={})
    assert hub.audience(post_event) == []
