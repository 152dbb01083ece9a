"""The idle limit ends a session's websockets too: a session unused past
settings.session_idle is refused on its next HTTP request, and its open sockets are closed
as signed out (4401, as for an expired session). Socket traffic is no activity: opening
(or reopening) a socket, and the requests a page makes by itself in answer to live events,
do not move the idle timer, so an unattended screen cannot keep its session alive."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from feeds.clock import utcnow
from feeds.models import Professional, Session
from server.auth import TOUCH_EVERY, digest, issue_token
from server.endpoints import BACKGROUND_HEADER
from server.settings import Settings
from tests.conftest import Factory, api_login
from tests.live_server import receive, receive_until, running_server, ws_connect


async def _last_seen(person: Professional) -> list[object]:
    return [s.last_seen_at for s in await Session.filter(professional_id=person.id)]


async def _post(address: str, token: str, child_id: int, body: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        response = await http.post(
            f"/api/v1/children/{child_id}/posts",
            json={"kind": "update", "body": body},
            headers={"authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201


async def test_an_idle_sessions_socket_is_closed_as_signed_out(settings: Settings) -> None:
    async with running_server(settings) as address:
        make = Factory()
        child = await make.child()
        person = await make.practitioner(grants=[child])
        writer = (await issue_token(await make.practitioner(grants=[child]), "w"))[1]
        origin = f"http://{address}"
        async with (
            httpx.AsyncClient(base_url=origin, timeout=30) as left,
            httpx.AsyncClient(base_url=origin, timeout=30) as used,
        ):
            await api_login(left, person.email)
            await api_login(used, person.email)
            left_cookie = f"jigsaw_session={left.cookies['jigsaw_session']}"
            used_cookie = f"jigsaw_session={used.cookies['jigsaw_session']}"
            async with (
                ws_connect(address, cookie=left_cookie, origin=origin) as unattended,
                ws_connect(address, cookie=used_cookie, origin=origin) as attended,
            ):
                for socket in (unattended, attended):
                    assert (await receive(socket))["type"] == "hello"
                # The first browser was last used longer ago than the idle limit allows.
                idle_since = utcnow() - settings.session_idle - timedelta(seconds=5)
                left_id = digest(left.cookies["jigsaw_session"])
                await Session.filter(id=left_id).update(last_seen_at=idle_since)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(unattended.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
                # The same check left the session in use open: it still gets live posts.
                await _post(address, writer, child.id, "still here")
                got = await receive_until(attended, "post.created")
                assert got["data"]["body"] == "still here"
            # HTTP says the same of each session.
            assert (await left.get("/api/v1/me")).status_code == 401
            assert (await used.get("/api/v1/me")).status_code == 200


async def test_opening_a_socket_or_a_background_request_is_not_activity(settings: Settings) -> None:
    async with running_server(settings) as address:
        person = await Factory().practitioner()
        origin = f"http://{address}"
        async with httpx.AsyncClient(base_url=origin, timeout=30) as browser:
            await api_login(browser, person.email)
            cookie = f"jigsaw_session={browser.cookies['jigsaw_session']}"
            # Last used a while ago (long enough that a request would move the timer on).
            earlier = utcnow() - TOUCH_EVERY * 5
            assert earlier > utcnow() - settings.session_idle
            await Session.filter(professional_id=person.id).update(last_seen_at=earlier)
            before = await _last_seen(person)
            for _ in range(2):  # a page reconnecting by itself
                async with ws_connect(address, cookie=cookie, origin=origin) as socket:
                    assert (await receive(socket))["type"] == "hello"
                    await socket.send('{"type": "ping"}')
            assert await _last_seen(person) == before
            # The page's own requests in answer to live events (re-reading the board or a
            # child's activity) are not activity either.
            background = {BACKGROUND_HEADER: "1"}
            assert (await browser.get("/api/v1/me", headers=background)).status_code == 200
            assert (await browser.get("/api/v1/home", headers=background)).status_code == 200
            assert await _last_seen(person) == before
            # A request is activity: the same timer moves (so the check above could fail).
            assert (await browser.get("/api/v1/me")).status_code == 200
            assert await _last_seen(person) != before
