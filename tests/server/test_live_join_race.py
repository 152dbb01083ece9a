"""A socket that joins the hub while it renders an event still gets that event.

Found by the host-failure drill (loadtests/failover_drill.py): sockets reconnecting to
the surviving host while its hub rendered a batch were told to replay up to the event
before it, but the event itself was offered only to the sockets there before the render
began, so the newcomer missed it for good.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from feeds import events
from feeds.audit.records import AuditContext
from feeds.feed.posting import do_create_post
from feeds.models import Event
from server.live import Hub, Subscriber
from server.settings import Settings
from tests.conftest import Factory

CTX = AuditContext(ip="127.0.0.1", request_id="test")


def queued_ids(subscriber: Subscriber) -> list[int]:
    return [event_id for event_id, _text in subscriber.backlog]


async def test_a_socket_that_joins_while_an_event_renders_still_receives_it(
    app: Starlette, make: Factory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = await make.child()
    there, joining = (
        await make.practitioner(grants=[child]),
        await make.practitioner(grants=[child]),
    )
    hub = Hub(settings.database_url)
    hub.position = await events.latest_event_id()
    hub.subscribe(Subscriber(there.id, visible={child.id}))
    newcomer = Subscriber(joining.id, visible={child.id})
    replay_upto: list[int] = []
    render = hub._render

    async def render_while_a_socket_joins(batch: list[Event]) -> dict[int, dict[str, Any]]:
        replay_upto.append(hub.subscribe(newcomer))  # the websocket route's subscribe
        return await render(batch)

    monkeypatch.setattr(hub, "_render", render_while_a_socket_joins)
    post = (await do_create_post(there, child.id, "update", "seen at the school gate", CTX)).post
    await hub.pump()
    created = await Event.filter(type=events.POST_CREATED, child_id=child.id).get()
    assert created.payload == {"post_id": post.id}
    # Its replay stops before the event, so the event must come to it live, once.
    assert len(replay_upto) == 1 and replay_upto[0] < created.id
    assert queued_ids(newcomer).count(created.id) == 1
