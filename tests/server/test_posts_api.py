"""Posting, paging, editing and removing through the JSON API, with audit and events."""

from __future__ import annotations

import httpx

from feeds.models import AuditRecord, Event, Post, PostRevision, SearchOutbox
from tests.conftest import Factory, api_login


async def _logged_in_with_child(client: httpx.AsyncClient, make: Factory) -> int:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    await api_login(client, person.email)
    return child.id


async def test_post_is_written_with_audit_event_and_outbox_row(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child_id = await _logged_in_with_child(client, make)
    response = await client.post(
        f"/api/v1/children/{child_id}/posts",
        json={"kind": "hunch", "body": "  Mum seemed frightened.  "},
    )
    assert response.status_code == 201
    post = response.json()
    assert post["body"] == "Mum seemed frightened." and post["kind"] == "hunch"
    assert await AuditRecord.filter(action="post.create", child_id=child_id).count() == 1
    event = await Event.get(type="post.created", child_id=child_id)
    assert event.payload == {"post_id": post["id"]}  # ids only: the text is not copied
    assert await SearchOutbox.filter(post_id=post["id"], op="index").count() == 1


async def test_idempotency_key_makes_a_retry_return_the_first_post(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child_id = await _logged_in_with_child(client, make)
    url, body = f"/api/v1/children/{child_id}/posts", {"kind": "update", "body": "visited"}
    first = await client.post(url, json=body, headers={"idempotency-key": "k-1"})
    retry = await client.post(url, json=body, headers={"idempotency-key": "k-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert await Post.filter(child_id=child_id).count() == 1
    assert await Event.filter(child_id=child_id, type="post.created").count() == 1


async def test_reusing_an_idempotency_key_for_other_content_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child_id = await _logged_in_with_child(client, make)
    url = f"/api/v1/children/{child_id}/posts"
    await client.post(url, json={"kind": "update", "body": "a"}, headers={"idempotency-key": "k"})
    clash = await client.post(
        url, json={"kind": "update", "body": "b"}, headers={"idempotency-key": "k"}
    )
    assert clash.status_code == 422
    assert "Idempotency-Key" in clash.json()["error"]["message"]
    assert await Post.filter(child_id=child_id).count() == 1


async def test_feed_pages_newest_first_with_a_before_cursor(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child_id = await _logged_in_with_child(client, make)
    for n in range(5):
        await client.post(
            f"/api/v1/children/{child_id}/posts", json={"kind": "update", "body": f"post {n}"}
        )
    first = (await client.get(f"/api/v1/children/{child_id}/posts?limit=2")).json()
    assert [p["body"] for p in first["posts"]] == ["post 4", "post 3"]
    second = (
        await client.get(f"/api/v1/children/{child_id}/posts?limit=2&before={first['next_before']}")
    ).json()
    assert [p["body"] for p in second["posts"]] == ["post 2", "post 1"]
    last = (
        await client.get(
            f"/api/v1/children/{child_id}/posts?limit=2&before={second['next_before']}"
        )
    ).json()
    assert [p["body"] for p in last["posts"]] == ["post 0"] and last["next_before"] is None


async def test_every_feed_read_is_audited_with_who_and_where(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child_id = await _logged_in_with_child(client, make)
    response = await client.get(f"/api/v1/children/{child_id}/posts")
    record = await AuditRecord.get(action="feed.read", child_id=child_id)
    assert record.actor_id is not None and record.outcome == "ok"
    assert record.ip == "127.0.0.1"
    assert record.request_id == response.headers["x-request-id"]


async def test_refused_feed_read_is_audited_as_denied(
    client: httpx.AsyncClient, make: Factory
) -> None:
    hidden = await make.child()
    person = await make.professional()
    await api_login(client, person.email)
    assert (await client.get(f"/api/v1/children/{hidden.id}/posts")).status_code == 404
    assert (
        await AuditRecord.filter(action="feed.read", child_id=hidden.id, outcome="denied").count()
        == 1
    )


async def test_edit_keeps_the_old_text_as_a_revision(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child_id = await _logged_in_with_child(client, make)
    post = (
        await client.post(
            f"/api/v1/children/{child_id}/posts", json={"kind": "update", "body": "typo"}
        )
    ).json()
    edited = await client.patch(
        f"/api/v1/posts/{post['id']}", json={"kind": "concern", "body": "fixed"}
    )
    assert edited.status_code == 200 and edited.json()["edited_at"] is not None
    revision = await PostRevision.get(post_id=post["id"])
    assert (revision.body, revision.kind) == ("typo", "update")


async def test_removal_is_soft_and_hides_the_post(client: httpx.AsyncClient, make: Factory) -> None:
    child_id = await _logged_in_with_child(client, make)
    post = (
        await client.post(
            f"/api/v1/children/{child_id}/posts", json={"kind": "update", "body": "wrong child"}
        )
    ).json()
    assert (await client.delete(f"/api/v1/posts/{post['id']}")).status_code == 204
    feed = (await client.get(f"/api/v1/children/{child_id}/posts")).json()
    assert feed["posts"] == []
    kept = await Post.get(id=post["id"])
    assert kept.body == "wrong child" and kept.removed_at is not None
    assert await SearchOutbox.filter(post_id=post["id"], op="remove").count() == 1


async def test_children_lists_only_the_callers_caseload(
    client: httpx.AsyncClient, make: Factory
) -> None:
    mine, team_child, hidden = await make.child(), await make.child(), await make.child()
    person = await make.practitioner(grants=[mine])
    team = await make.team(members=[person])
    await make.grant(team_child, team=team)
    await make.grant(hidden, professional=await make.professional())
    await api_login(client, person.email)
    listed = (await client.get("/api/v1/children")).json()["children"]
    assert sorted(c["id"] for c in listed) == sorted([mine.id, team_child.id])


async def test_team_around_the_child_shows_agency_and_since(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    await api_login(client, person.email)
    grants = (await client.get(f"/api/v1/children/{child.id}/grants")).json()["grants"]
    assert grants[0]["holder"]["name"] == person.name
    assert grants[0]["holder"]["agency"].startswith("Agency")
    assert grants[0]["created_at"]


async def test_manager_grants_with_expiry_then_revokes_and_access_ends(
    client: httpx.AsyncClient, make: Factory
) -> None:
    from feeds.models import Role

    child = await make.child()
    # A manager around the child: the manager of a team that holds a grant for it.
    manager = await make.professional(role=Role.MANAGER)
    await make.grant(child, team=await make.team(managers=[manager]))
    newcomer = await make.professional()
    await api_login(client, manager.email)
    granted = await client.post(
        f"/api/v1/children/{child.id}/grants",
        json={"professional_id": newcomer.id, "expires_at": "2099-01-01T00:00:00+00:00"},
    )
    assert granted.status_code == 201 and granted.json()["expires_at"].startswith("2099")
    assert await AuditRecord.filter(action="grant.create", child_id=child.id).count() == 1
    revoked = await client.delete(f"/api/v1/grants/{granted.json()['id']}")
    assert revoked.json()["revoked_at"] is not None
    assert await AuditRecord.filter(action="grant.revoke", child_id=child.id).count() == 1
    from feeds.access.policy import may_view

    assert not await may_view(newcomer, child.id)
