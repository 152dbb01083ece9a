"""Live websocket delivery, replay after reconnect, revocation, mentions and origin checks,
against a real uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from feeds.models import Child, Grant, Notification, Role
from tests.conftest import PASSWORD, Factory
from tests.live_server import (
    nothing_more,
    receive,
    receive_until,
    token_for,
    ws_connect,
)


async def post(
    address: str, token: str, child: Child, body: str, kind: str = "update"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        response = await http.post(
            f"/api/v1/children/{child.id}/posts",
            json={"kind": kind, "body": body},
            headers={"authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201, response.text
    return response


async def test_new_post_reaches_an_open_socket_with_the_api_shape(live: str) -> None:
    make = Factory()
    child = await make.child()
    reader, writer = (
        await make.practitioner(grants=[child]),
        await make.practitioner(grants=[child]),
    )
    async with ws_connect(live, await token_for(reader)) as socket:
        assert (await receive(socket))["type"] == "hello"
        created = await post(live, await token_for(writer), child, "saw him at the park")
        message = await receive_until(socket, "post.created")
    assert message["child_id"] == child.id
    # The post as the API returns it; only its author is told which mentions reached nobody.
    assert {**message["data"], "unreachable_mentions": []} == created.json()
    assert message["id"] > 0


VELOCITY_EVENTS = ("velocity.changed", "velocity.updated")


async def test_reconnect_replays_exactly_the_missed_posts_in_order(live: str) -> None:
    make = Factory()
    child = await make.child()
    reader, writer = (
        await make.practitioner(grants=[child]),
        await make.practitioner(grants=[child]),
    )
    reader_token, writer_token = await token_for(reader), await token_for(writer)
    async with ws_connect(live, reader_token) as socket:
        last_id = (await receive(socket))["last_id"]
    for n in range(50):
        await post(live, writer_token, child, f"update {n}")
    async with ws_connect(live, reader_token, after=last_id) as socket:
        await receive(socket)  # hello
        bodies = [(await receive_until(socket, "post.created"))["data"]["body"] for _ in range(50)]
        # The burst moves the child's velocity too; those events are not replayed posts.
        assert await nothing_more(socket, ignore=VELOCITY_EVENTS)
    assert bodies == [f"update {n}" for n in range(50)]


async def test_revoked_grant_stops_events_on_an_open_socket(live: str) -> None:
    make = Factory()
    child = await make.child()
    still_visible = await make.child()
    reader = await make.practitioner(grants=[still_visible])
    writer = await make.practitioner(grants=[child, still_visible])
    grant = await make.grant(child, professional=reader)
    async with ws_connect(live, await token_for(reader)) as socket:
        await receive(socket)
        await post(live, await token_for(writer), child, "before revocation")
        assert (await receive_until(socket, "post.created"))["data"]["body"] == "before revocation"
        manager = await make.professional(role=Role.MANAGER)
        await make.grant(child, team=await make.team(managers=[manager]))
        async with httpx.AsyncClient(base_url=f"http://{live}") as http:
            revoked = await http.delete(
                f"/api/v1/grants/{grant.id}",
                headers={"authorization": f"Bearer {await token_for(manager)}"},
            )
            assert revoked.status_code == 200
        await post(live, await token_for(writer), child, "secret after revocation")
        await post(live, await token_for(writer), still_visible, "still visible")
        seen = await collect(socket, 1.0)
    bodies = [m["data"].get("body") for m in seen if m["type"] == "post.created"]
    assert bodies == ["still visible"]


async def collect(socket: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Every message that arrives within `seconds`."""
    messages: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                messages.append(await receive(socket, seconds))
    return messages


async def test_mentions_notify_only_people_who_may_see_the_child(live: str) -> None:
    make = Factory()
    child = await make.child()
    writer = await make.practitioner(grants=[child])
    colleague = await make.practitioner(grants=[child], handle="sam.jones")
    outsider = await make.practitioner(handle="alex.outsider")
    async with ws_connect(live, await token_for(colleague)) as socket:
        await receive(socket)
        await post(
            live,
            await token_for(writer),
            child,
            "@sam.jones and @alex.outsider: please look at this.",
            kind="hunch",
        )
        mention = await receive_until(socket, "mention")
    assert mention["data"]["post"]["body"].startswith("@sam.jones")
    assert mention["data"]["unread"] == 1
    assert await Notification.filter(recipient_id=colleague.id).count() == 1
    assert await Notification.filter(recipient_id=outsider.id).count() == 0


async def test_anonymous_upgrade_is_refused(live: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(live):
            pass
    assert refused.value.response.status_code == 403


async def test_cross_origin_upgrade_is_refused(live: str) -> None:
    person = await Factory().practitioner()
    with pytest.raises(InvalidStatus):
        async with ws_connect(live, await token_for(person), origin="https://evil.example"):
            pass


async def test_cookie_upgrade_needs_a_same_site_origin(live: str) -> None:
    person = await Factory().practitioner()
    async with httpx.AsyncClient(base_url=f"http://{live}") as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": person.email, "password": PASSWORD}
        )
        cookie = f"jigsaw_session={login.cookies['jigsaw_session']}"
    with pytest.raises(InvalidStatus):
        async with ws_connect(live, cookie=cookie):
            pass
    async with ws_connect(live, cookie=cookie, origin=f"http://{live}") as socket:
        assert (await receive(socket))["type"] == "hello"


async def test_logout_everywhere_closes_open_sockets_within_seconds(live: str) -> None:
    person = await Factory().practitioner()
    token = await token_for(person)
    async with httpx.AsyncClient(base_url=f"http://{live}") as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": person.email, "password": PASSWORD}
        )
        cookie = f"jigsaw_session={login.cookies['jigsaw_session']}"
    async with ws_connect(live, cookie=cookie, origin=f"http://{live}") as socket:
        await receive(socket)
        async with httpx.AsyncClient(base_url=f"http://{live}") as http:
            await http.post(
                "/api/v1/auth/logout-everywhere", headers={"authorization": f"Bearer {token}"}
            )
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_replay_from_before_the_retained_log_says_reload(live: str) -> None:
    make = Factory()
    child = await make.child()
    writer = await make.practitioner(grants=[child])
    token = await token_for(writer)
    for n in range(3):
        await post(live, token, child, f"p{n}")
    from feeds.models import Event

    oldest = await Event.all().order_by("id").first()
    assert oldest is not None
    await Event.filter(id=oldest.id).delete()  # as retention pruning would
    async with ws_connect(live, token, after=0) as socket:
        await receive(socket)
        assert (await receive(socket))["type"] == "reload"


async def test_grant_table_is_untouched_by_websocket_reads(live: str) -> None:
    before = await Grant.all().count()
    person = await Factory().practitioner()
    async with ws_connect(live, await token_for(person)) as socket:
        await receive(socket)
    assert await Grant.all().count() == before
