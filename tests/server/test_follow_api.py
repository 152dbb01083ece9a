"""Following, the home stream, acknowledgements and the notifications inbox over HTTP."""

from __future__ import annotations

from collections import Counter

import httpx

from feeds.audit.records import SYSTEM
from feeds.models import AuditRecord, Event
from tests.conftest import Factory, api_login


async def test_home_stream_merges_followed_children_newest_first(
    client: httpx.AsyncClient, make: Factory
) -> None:
    first, second, unfollowed = await make.child(), await make.child(), await make.child()
    person = await make.practitioner(grants=[first, second, unfollowed])
    await api_login(client, person.email)
    for child in (first, second):
        assert (await client.post(f"/api/v1/children/{child.id}/follow")).status_code == 200
    for child, body in ((first, "a"), (unfollowed, "hidden"), (second, "b"), (first, "c")):
        await client.post(
            f"/api/v1/children/{child.id}/posts", json={"kind": "update", "body": body}
        )
    home = (await client.get("/api/v1/home")).json()
    assert [p["body"] for p in home["posts"]] == ["c", "b", "a"]
    assert home["following"] == sorted([first.id, second.id])
    await client.delete(f"/api/v1/children/{first.id}/follow")
    home = (await client.get("/api/v1/home")).json()
    assert [p["body"] for p in home["posts"]] == ["b"]


async def test_reading_the_home_stream_is_audited_in_each_childs_log(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Found in review: the home stream read posts across children without a record."""
    first, second = await make.child(), await make.child()
    person = await make.practitioner(grants=[first, second])
    await api_login(client, person.email)
    for child in (first, second):
        await client.post(f"/api/v1/children/{child.id}/follow")
        await client.post(
            f"/api/v1/children/{child.id}/posts", json={"kind": "update", "body": "x"}
        )

    api = await client.get("/api/v1/home")
    page = await client.get("/")

    assert api.status_code == 200 and page.status_code == 200
    reads = await AuditRecord.filter(action="feed.home", actor_id=person.id).order_by("id")
    assert Counter(r.child_id for r in reads) == Counter([first.id, second.id] * 2)
    assert all(r.detail["post_ids"] for r in reads)


async def test_a_team_follow_covers_every_member(client: httpx.AsyncClient, make: Factory) -> None:
    child = await make.child()
    member, colleague = await make.practitioner(grants=[child]), await make.practitioner()
    team = await make.team(members=[colleague], managers=[member])  # managers follow for a team
    await make.grant(child, team=team)
    await api_login(client, member.email)
    followed = await client.post(f"/api/v1/children/{child.id}/follow", json={"team_id": team.id})
    assert followed.status_code == 200
    await client.post(f"/api/v1/children/{child.id}/posts", json={"kind": "visit", "body": "v"})
    from feeds.feed.following import home_stream

    assert [p.body for p in await home_stream(colleague, SYSTEM)] == ["v"]


async def test_following_a_team_you_are_not_in_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    other_team = await make.team()
    await api_login(client, person.email)
    refused = await client.post(
        f"/api/v1/children/{child.id}/follow", json={"team_id": other_team.id}
    )
    assert refused.status_code == 403


async def test_losing_access_removes_the_child_from_the_home_stream(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner()
    grant = await make.grant(child, professional=person)
    await api_login(client, person.email)
    await client.post(f"/api/v1/children/{child.id}/follow")
    await client.post(f"/api/v1/children/{child.id}/posts", json={"kind": "update", "body": "x"})
    from feeds.clock import utcnow

    grant.revoked_at = utcnow()
    await grant.save()
    assert (await client.get("/api/v1/home")).json()["posts"] == []


async def test_acknowledging_notifies_the_author_once(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author, reader = (
        await make.practitioner(grants=[child]),
        await make.practitioner(grants=[child]),
    )
    await api_login(client, author.email)
    post = (
        await client.post(
            f"/api/v1/children/{child.id}/posts", json={"kind": "hunch", "body": "something is off"}
        )
    ).json()
    await api_login(client, reader.email)
    for _ in range(2):
        seen = await client.post(f"/api/v1/posts/{post['id']}/acknowledge")
        assert seen.json() == {"post_id": post["id"], "seen_by": 1}
    assert await Event.filter(type="post.acknowledged").count() == 1
    await api_login(client, author.email)
    inbox = (await client.get("/api/v1/notifications")).json()
    assert inbox["unread"] == 1
    assert inbox["notifications"][0]["kind"] == "acknowledged"


async def test_mark_read_and_mark_all_read_update_the_unread_count(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    named = await make.practitioner(grants=[child], handle="pat.named")
    await api_login(client, author.email)
    for n in range(3):
        await client.post(
            f"/api/v1/children/{child.id}/posts",
            json={"kind": "update", "body": f"@pat.named note {n}"},
        )
    await api_login(client, named.email)
    inbox = (await client.get("/api/v1/notifications")).json()
    assert inbox["unread"] == 3
    first_id = inbox["notifications"][0]["notification_id"]
    assert (await client.post(f"/api/v1/notifications/{first_id}/read")).json() == {"unread": 2}
    assert (await client.post("/api/v1/notifications/read-all")).json() == {"unread": 0}
    assert (await client.get("/api/v1/notifications")).json()["unread"] == 0


async def test_notifications_about_a_child_you_lost_access_to_disappear(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    named = await make.practitioner(handle="lee.named")
    grant = await make.grant(child, professional=named)
    await api_login(client, author.email)
    await client.post(
        f"/api/v1/children/{child.id}/posts",
        json={"kind": "concern", "body": "@lee.named please call"},
    )
    from feeds.clock import utcnow

    grant.revoked_at = utcnow()
    await grant.save()
    await api_login(client, named.email)
    inbox = (await client.get("/api/v1/notifications")).json()
    assert inbox == {"notifications": [], "unread": 0}


async def test_someone_elses_notification_cannot_be_marked(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    await api_login(client, person.email)
    assert (await client.post("/api/v1/notifications/999/read")).status_code == 404
