"""Kept comparisons in the app (feeds/velocity/comparisons.py), over HTTP: a compared board
serves each child's kept comparison until an event for that child, the poster's own
worker drops it before the post answers, a reader with the recent-write mark reads afresh,
and access stays the request's own.

Tallies written here behind the app's back (a post row and its days rebuilt, no event)
show whether a number was kept or read again."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
from starlette.applications import Starlette
from tortoise import connections

from feeds import events
from feeds.clock import utcnow
from feeds.models import Child, Grant, Post, PostKind, Professional
from feeds.replica import Router
from feeds.velocity.tallies import rebuild_days
from server.auth import issue_token
from server.replica_reads import WAL_COOKIE
from tests.conftest import Factory, client_for


async def client_of(app: Starlette, person: Professional) -> httpx.AsyncClient:
    client = client_for(app)
    client.headers["authorization"] = f"Bearer {(await issue_token(person, 'kept'))[1]}"
    return client


async def today_by_child(client: httpx.AsyncClient) -> dict[int, int]:
    """Each compared child's posts today, from the compared board."""
    response = await client.get("/api/v1/board", params={"from": date.today().isoformat()})
    assert response.status_code == 200, response.text
    return {c["child"]["id"]: c["b"]["total_posts"] for c in response.json()["changes"]}


async def unheard_post(child: Child, author: Professional) -> None:
    """A post counted in today's tallies with no event: nothing tells the app."""
    at = utcnow()
    await Post.create(child=child, author=author, kind=PostKind.UPDATE, body="x", created_at=at)
    await rebuild_days([child.id])


async def post(client: httpx.AsyncClient, child: Child) -> None:
    body = {"kind": "concern", "body": "Missed the health visit again"}
    response = await client.post(f"/api/v1/children/{child.id}/posts", json=body)
    assert response.status_code == 201, response.text


async def hub_heard_everything(app: Starlette) -> None:
    latest = await events.latest_event_id()
    for _ in range(500):
        if app.state.hub.position >= latest:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the hub did not reach the newest event")


async def test_a_post_drops_only_its_childs_kept_comparison(app: Starlette, make: Factory) -> None:
    posted, untouched = await make.child(), await make.child()
    writer = await make.practitioner(grants=[posted, untouched])
    manager = await make.manager_of(posted, untouched)
    async with await client_of(app, manager) as m, await client_of(app, writer) as w:
        first = await today_by_child(m)
        await unheard_post(posted, writer)
        await unheard_post(untouched, writer)
        kept = await today_by_child(m)
        await post(w, posted)
        at_once = await today_by_child(m)
        await hub_heard_everything(app)
        later = await today_by_child(m)

    assert first == kept == {posted.id: 0, untouched.id: 0}  # kept: the tallies moved unheard
    assert at_once == later == {posted.id: 2, untouched.id: 0}  # only the posted child again


async def test_the_posting_worker_shows_the_post_before_its_hub_hears_of_it(
    app: Starlette, make: Factory
) -> None:
    posted, untouched = await make.child(), await make.child()
    writer = await make.practitioner(grants=[posted, untouched])
    manager = await make.manager_of(posted, untouched)
    async with await client_of(app, manager) as m, await client_of(app, writer) as w:
        await today_by_child(m)
        await unheard_post(untouched, writer)
        kept = await today_by_child(m)
        await app.state.hub.loop.stop()  # a hub that has not read the log yet
        await post(w, posted)
        at_once = await today_by_child(m)

    assert kept == {posted.id: 0, untouched.id: 0}
    assert at_once == {posted.id: 1, untouched.id: 1}  # nothing heard since: all read afresh


async def test_a_reader_with_the_recent_write_mark_reads_afresh(
    app: Starlette, make: Factory
) -> None:
    child = await make.child()
    writer = await make.practitioner(grants=[child])
    manager = await make.manager_of(child)
    # A standby that never serves (it is the primary: probes fail, reads stay there), so
    # that requests are bound to a router and the mark travels as on a replicated setup.
    app.state.replica = Router(connections.get("default"), 5.0)
    async with await client_of(app, manager) as m:
        first = await today_by_child(m)
        await unheard_post(child, writer)
        kept = await today_by_child(m)
        m.cookies.set(WAL_COOKIE, "0/1")  # another worker's mark: this reader wrote lately
        marked = await today_by_child(m)

    assert first == kept == {child.id: 0}
    assert marked == {child.id: 1}


async def test_a_revoked_grant_drops_the_child_from_the_next_compared_board(
    app: Starlette, make: Factory
) -> None:
    lead = await make.professional()
    stays, revoked = await make.child(lead=lead), await make.child(lead=lead)
    for child in (stays, revoked):
        await make.grant(child, professional=lead)
    manager = await make.manager_of(stays, revoked)
    for child in (stays, revoked):
        await unheard_post(child, lead)
    grant = await Grant.filter(child_id=revoked.id, team_id__isnull=False).first()
    assert grant is not None
    async with await client_of(app, manager) as m, await client_of(app, lead) as by_lead:
        params = {"from": date.today().isoformat()}
        first = (await m.get("/api/v1/board", params=params)).json()
        assert (await by_lead.delete(f"/api/v1/grants/{grant.id}")).status_code == 200
        second = (await m.get("/api/v1/board", params=params)).json()

    assert {c["child"]["id"] for c in first["changes"]} == {stays.id, revoked.id}
    assert first["comparison"]["b"]["total_posts"] == 2
    assert [c["child"]["id"] for c in second["changes"]] == [stays.id]
    assert [r["child"]["id"] for r in second["rows"]] == [stays.id]
    assert second["comparison"]["b"]["total_posts"] == 1  # the board's totals without it
