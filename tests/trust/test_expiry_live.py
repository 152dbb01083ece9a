"""An open socket stops receiving a child's events when the grant or break-glass that
allowed it ends by itself (no grant change announces an expiry)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from feeds.clock import utcnow
from feeds.models import BreakGlass, Grant
from server.auth import issue_token
from tests.conftest import Factory
from tests.live_server import receive, receive_until, ws_connect


async def post(address: str, token: str, child_id: int, body: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        response = await http.post(
            f"/api/v1/children/{child_id}/posts",
            json={"kind": "update", "body": body},
            headers={"authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201


@pytest.mark.parametrize("access", ["grant", "break_glass"])
async def test_events_stop_when_access_expires_on_an_open_socket(live: str, access: str) -> None:
    make = Factory()
    child = await make.child()
    writer = await make.practitioner(grants=[child])
    reader = await make.practitioner()
    ends = utcnow() + timedelta(seconds=1.5)
    if access == "grant":
        await Grant.create(child=child, professional=reader, expires_at=ends)
    else:
        now = utcnow()
        await BreakGlass.create(
            child=child, professional=reader, reason="test", started_at=now, expires_at=ends
        )
    writer_token = (await issue_token(writer, "w"))[1]
    async with ws_connect(live, (await issue_token(reader, "r"))[1]) as socket:
        assert (await receive(socket))["type"] == "hello"
        await post(live, writer_token, child.id, "before the end")
        assert (await receive_until(socket, "post.created"))["data"]["body"] == "before the end"
        await asyncio.sleep(max(0.0, (ends - utcnow()).total_seconds()) + 0.2)
        await post(live, writer_token, child.id, "after the end")
        with pytest.raises(TimeoutError):
            await receive_until(socket, "post.created", timeout=1.0)
