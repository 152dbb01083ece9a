"""Requests to join and new agencies reach the people answerable for the child live, over
the websocket; a declined requester hears of it without the child being named."""

from __future__ import annotations

import httpx

from feeds.models import Agency, Sector
from tests.conftest import Factory
from tests.live_server import call, receive, receive_until, token_for, ws_connect

REQUEST = {"role": "school nurse", "reason": "Starting weekly health checks at Northgate"}


async def test_the_lead_is_told_live_and_the_declined_requester_too(live: str) -> None:
    make = Factory()
    lead = await make.professional()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    requester = await make.professional()
    async with ws_connect(live, await token_for(lead)) as socket:
        assert (await receive(socket))["type"] == "hello"
        asked = {"reference": child.reference, **REQUEST}
        assert await call(live, requester, "/api/v1/access-requests", asked) == 202
        message = await receive_until(socket, "notification")
    assert message["child_id"] == child.id
    assert (message["data"]["kind"], message["data"]["unread"]) == ("access_request", 1)
    async with httpx.AsyncClient(base_url=f"http://{live}") as http:
        listed = await http.get(
            f"/api/v1/children/{child.id}/access-requests",
            headers={"authorization": f"Bearer {await token_for(lead)}"},
        )
    [request] = listed.json()["access_requests"]
    async with ws_connect(live, await token_for(requester)) as socket:
        assert (await receive(socket))["type"] == "hello"
        declined = {"reason": "Covered by the school nursing team"}
        path = f"/api/v1/access-requests/{request['id']}/decline"
        assert await call(live, lead, path, declined) == 200
        message = await receive_until(socket, "notification")
    assert message["child_id"] is None
    assert message["data"]["kind"] == "access_request_declined"
    assert child.display_name not in str(message) and child.reference not in str(message)


async def test_an_approved_requester_hears_of_it_and_then_sees_the_child(live: str) -> None:
    make = Factory()
    lead = await make.professional()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    requester = await make.professional()
    asked = {"reference": child.reference, **REQUEST}
    assert await call(live, requester, "/api/v1/access-requests", asked) == 202
    async with httpx.AsyncClient(base_url=f"http://{live}") as http:
        listed = await http.get(
            "/api/v1/access-requests",
            headers={"authorization": f"Bearer {await token_for(lead)}"},
        )
    [request] = listed.json()["access_requests"]
    async with ws_connect(live, await token_for(requester)) as socket:
        assert (await receive(socket))["type"] == "hello"
        path = f"/api/v1/access-requests/{request['id']}/approve"
        assert await call(live, lead, path, {"days": 7}) == 200
        message = await receive_until(socket, "notification")
        assert (message["child_id"], message["data"]["kind"]) == (
            child.id,
            "access_request_approved",
        )
        await call(
            live, lead, f"/api/v1/children/{child.id}/posts", {"kind": "update", "body": "welcome"}
        )
        assert (await receive_until(socket, "post.created"))["data"]["body"] == "welcome"


async def test_a_new_agency_reaches_the_lead_live(live: str) -> None:
    make = Factory()
    lead = await make.professional()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    manager = await make.manager_of(child)
    school = await Agency.create(name="Northgate Primary School", sector=Sector.EDUCATION)
    teacher = await make.professional(agency=school)
    async with ws_connect(live, await token_for(lead)) as socket:
        assert (await receive(socket))["type"] == "hello"
        grant = {"professional_id": teacher.id}
        assert await call(live, manager, f"/api/v1/children/{child.id}/grants", grant) == 201
        entry = await receive_until(socket, "child.entry")
        note = await receive_until(socket, "notification")
    assert entry["child_id"] == child.id and entry["data"]["kind"] == "agency_involved"
    assert entry["data"]["text"] == "Northgate Primary School (education) is now involved"
    assert (note["child_id"], note["data"]["kind"]) == (child.id, "agency_involved")
