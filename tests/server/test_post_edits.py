"""Editing one's own post (the kind, the text or both), its earlier wordings, @mention
suggestions, and telling the author which mentions reached nobody: API and pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from feeds.audit.records import SYSTEM
from feeds.clock import utcnow
from feeds.event_views import render as render_events
from feeds.feed.posting import do_create_post
from feeds.models import (
    AuditRecord,
    BreakGlass,
    Child,
    Event,
    Notification,
    Post,
    PostRevision,
    Professional,
)
from tests.conftest import Factory, api_login


async def _write(
    client: httpx.AsyncClient, child_id: int, body: str, kind: str = "update"
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/children/{child_id}/posts", json={"kind": kind, "body": body}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _author_of_a_post(
    client: httpx.AsyncClient, make: Factory
) -> tuple[Child, dict[str, Any]]:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    await api_login(client, author.email)
    return child, await _write(client, child.id, "Mum said dad moved out", "hunch")


async def test_a_body_only_edit_keeps_the_kind_and_a_kind_only_edit_keeps_the_text(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, post = await _author_of_a_post(client, make)
    url = f"/api/v1/posts/{post['id']}"
    body_only = await client.patch(url, json={"body": "Mum said dad moved out last week"})
    assert body_only.status_code == 200, body_only.text
    assert body_only.json()["kind"] == "hunch"
    assert body_only.json()["body"] == "Mum said dad moved out last week"
    kind_only = await client.patch(url, json={"kind": "concern"})
    assert kind_only.status_code == 200, kind_only.text
    assert kind_only.json()["kind"] == "concern"
    assert kind_only.json()["body"] == "Mum said dad moved out last week"
    kept = await PostRevision.filter(post_id=post["id"]).order_by("id").values_list("kind", "body")
    assert kept == [
        ("hunch", "Mum said dad moved out"),
        ("hunch", "Mum said dad moved out last week"),
    ]


async def test_a_patch_that_changes_nothing_keeps_no_revision_and_sends_no_event(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, post = await _author_of_a_post(client, make)
    same = await client.patch(f"/api/v1/posts/{post['id']}", json={"kind": "hunch"})
    assert same.status_code == 200 and same.json()["edited_at"] is None
    assert await PostRevision.filter(post_id=post["id"]).count() == 0
    assert await Event.filter(type="post.edited").count() == 0
    record = await AuditRecord.filter(action="post.edit").get()
    assert record.detail == {"post_id": post["id"], "unchanged": True}


async def test_bad_edits_get_the_one_422_shape(client: httpx.AsyncClient, make: Factory) -> None:
    _, post = await _author_of_a_post(client, make)
    url = f"/api/v1/posts/{post['id']}"
    cases = {
        "{}": ({}, None, "Send kind, body or both"),
        "unknown": ({"body": "x", "colour": "red"}, "colour", "Unknown field: colour."),
        "kind": ({"kind": "rumour"}, "kind", "kind must be one of: update, hunch"),
        "empty": ({"body": "   "}, "body", "Write something before posting"),
        "long": ({"body": "x" * 501}, "body", "This post is 1 character over the 500-character"),
        "null": ({"body": None}, "body", "body must be text"),
    }
    for name, (sent, field, start) in cases.items():
        response = await client.patch(url, json=sent)
        assert response.status_code == 422, name
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["field"] == field, (name, error)
        assert error["message"].startswith(start), (name, error)
    assert (await Post.get(id=post["id"])).body == "Mum said dad moved out"


async def test_everyone_who_sees_the_post_reads_its_earlier_wordings_newest_first(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, post = await _author_of_a_post(client, make)
    url = f"/api/v1/posts/{post['id']}"
    await client.patch(url, json={"body": "second wording"})
    await client.patch(url, json={"kind": "concern", "body": "third wording"})
    colleague = await make.practitioner(grants=[child])
    await api_login(client, colleague.email)
    response = await client.get(f"{url}/revisions")
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["post"]["body"] == "third wording"
    assert [(r["kind"], r["body"]) for r in history["revisions"]] == [
        ("hunch", "second wording"),
        ("hunch", "Mum said dad moved out"),
    ]
    newest, oldest = history["revisions"]
    assert oldest["written_at"] == history["post"]["created_at"]
    assert newest["written_at"] == oldest["replaced_at"] <= newest["replaced_at"]
    assert newest["replaced_by"] == history["post"]["author"]["name"]
    record = await AuditRecord.filter(action="post.revisions", actor_id=colleague.id).get()
    assert record.child_id == child.id and record.detail == {"post_id": post["id"], "count": 2}


async def test_revisions_of_a_hidden_removed_or_missing_post_are_one_404(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, post = await _author_of_a_post(client, make)
    await client.patch(f"/api/v1/posts/{post['id']}", json={"body": "secret second wording"})
    gone = await _write(client, child.id, "wrong child")
    await client.patch(f"/api/v1/posts/{gone['id']}", json={"body": "still wrong"})
    assert (await client.delete(f"/api/v1/posts/{gone['id']}")).status_code == 204
    removed = await client.get(f"/api/v1/posts/{gone['id']}/revisions")
    outsider = await make.professional()
    await api_login(client, outsider.email)
    hidden = await client.get(f"/api/v1/posts/{post['id']}/revisions")
    missing = await client.get("/api/v1/posts/999999/revisions")
    assert removed.status_code == hidden.status_code == missing.status_code == 404
    assert removed.json() == hidden.json() == missing.json()
    assert "secret" not in hidden.text
    denied = await AuditRecord.filter(action="post.revisions", outcome="denied").count()
    assert denied == 3


async def test_an_edit_is_one_post_edited_event_rendered_with_the_current_text(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, post = await _author_of_a_post(client, make)
    await client.patch(f"/api/v1/posts/{post['id']}", json={"body": "corrected"})
    edited = await Event.filter(type="post.edited", child_id=child.id)
    assert [e.payload for e in edited] == [{"post_id": post["id"]}]
    (message,) = await render_events(edited)
    assert message["data"]["body"] == "corrected" and message["data"]["edited_at"]


async def test_an_edit_notifies_only_the_people_it_names_for_the_first_time(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    nurse = await make.practitioner(grants=[child], handle="nurse.amy")
    teacher = await make.practitioner(grants=[child], handle="mr.cole")
    await api_login(client, author.email)
    post = await _write(client, child.id, "Asked @nurse.amy to visit")
    await client.patch(
        f"/api/v1/posts/{post['id']}", json={"body": "Asked @nurse.amy and @mr.cole"}
    )
    assert await Notification.filter(recipient_id=nurse.id, kind="mention").count() == 1
    assert await Notification.filter(recipient_id=teacher.id, kind="mention").count() == 1


async def _people_around(make: Factory) -> tuple[Child, Professional, dict[str, Professional]]:
    """A child, its author, and people named Helen: who may and may not be mentioned."""
    child = await make.child()
    author = await make.practitioner(grants=[child])
    team = await make.team()
    people = {
        "granted": await make.practitioner(grants=[child], name="Helen Doyle", handle="hdoyle"),
        "team": await make.professional(name="Sam Helena", handle="sam.h"),
        "handle": await make.practitioner(grants=[child], name="Ann Smith", handle="helpdesk"),
        "outsider": await make.professional(name="Helen Outside", handle="helen.out"),
        "colleague": await make.professional(
            name="Helen Sameagency", handle="helen.same", agency=await author.agency
        ),
        "inactive": await make.practitioner(grants=[child], name="Helen Gone", handle="hgone"),
        "glass": await make.professional(name="Helen Glass", handle="hglass"),
    }
    from feeds.models import TeamMember

    await TeamMember.create(team=team, professional=people["team"])
    await make.grant(child, team=team)
    people["inactive"].is_active = False
    await people["inactive"].save(update_fields=["is_active"])
    await BreakGlass.create(
        child=child,
        professional=people["glass"],
        reason="missing overnight",
        started_at=utcnow(),
        expires_at=utcnow() + timedelta(hours=2),
    )
    return child, author, people


async def test_mentionable_offers_only_people_a_grant_lets_see_the_child(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, author, people = await _people_around(make)
    await api_login(client, author.email)
    url = f"/api/v1/children/{child.id}/mentionable"
    found = (await client.get(url, params={"q": "hel"})).json()["people"]
    # By the start of a name, of a word of it, or of a handle; never those without a grant,
    # on emergency access, inactive, or the caller.
    assert [p["handle"] for p in found] == ["helpdesk", "hdoyle", "sam.h"]
    assert found[1] == {
        "name": "Helen Doyle",
        "handle": "hdoyle",
        "job_title": "Social worker",
        "agency": (await people["granted"].agency).name,
    }
    assert (await client.get(url, params={"q": "@hd"})).json()["people"][0]["handle"] == "hdoyle"
    assert (await client.get(url)).json() == {"people": []}  # no letters: nobody listed
    too_long = await client.get(url, params={"q": "h" * 65})
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "q"
    assert await AuditRecord.filter(action="mention.suggest", child_id=child.id).count() == 3


async def test_mentionable_lists_at_most_eight_and_nothing_of_a_hidden_child(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    viewer = await make.practitioner(grants=[child])
    for n in range(10):
        await make.practitioner(grants=[child], name=f"Pat {n}", handle=f"pat{n}")
    await api_login(client, viewer.email)
    url = f"/api/v1/children/{child.id}/mentionable?q=pat"
    assert len((await client.get(url)).json()["people"]) == 8
    await api_login(client, (await make.professional()).email)
    hidden = await client.get(url)
    missing = await client.get("/api/v1/children/999999/mentionable?q=pat")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json() and "Pat" not in hidden.text


async def test_the_author_is_told_which_mentions_reached_nobody_without_learning_who_exists(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, author, people = await _people_around(make)
    await api_login(client, author.email)
    body = "Spoke to @hdoyle, @helen.out, @helen.same, @hgone, @hglass and @nosuchperson."
    post = await _write(client, child.id, body)
    told = post["unreachable_mentions"]
    assert [t["handle"] for t in told] == ["helen.out", "helen.same", "hgone", "nosuchperson"]
    by = {t["handle"]: t for t in told}
    # Someone of the author's own agency: named, since the author knows them already.
    assert by["helen.same"] == {
        "handle": "helen.same",
        "name": "Helen Sameagency",
        "message": "Helen Sameagency (@helen.same) cannot see this child: they were not notified.",
    }
    # Anyone else (elsewhere, inactive, or nobody at all) gets the same words and no name.
    for handle in ("helen.out", "hgone", "nosuchperson"):
        assert by[handle]["name"] is None
        assert by[handle]["message"] == (
            f"@{handle}: nobody of that handle can see this child, so nobody was notified."
        )
    notified: list[Any] = await Notification.filter(kind="mention").values_list(
        "recipient_id", flat=True
    )
    assert sorted(notified) == sorted([people["granted"].id, people["glass"].id])


async def test_a_retried_post_tells_the_same_unreachable_mentions(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    await api_login(client, author.email)
    url, sent = f"/api/v1/children/{child.id}/posts", {"kind": "update", "body": "cc @nobody"}
    first = await client.post(url, json=sent, headers={"idempotency-key": "again"})
    retry = await client.post(url, json=sent, headers={"idempotency-key": "again"})
    assert retry.json() == first.json()
    assert [t["handle"] for t in first.json()["unreachable_mentions"]] == ["nobody"]


async def test_pages_post_edit_and_show_history_and_unreachable_mentions_without_js(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    await api_login(client, author.email)
    token = client.headers["x-csrftoken"]
    posted = await client.post(
        f"/children/{child.id}/posts",
        data={"kind": "update", "body": "Told @nosuchperson", "csrftoken": token},
    )
    assert posted.status_code == 303
    post = await Post.get(child_id=child.id)
    assert posted.headers["location"] == f"/children/{child.id}?posted={post.id}"
    page = await client.get(posted.headers["location"])
    assert "@nosuchperson: nobody of that handle can see this child" in page.text
    assert f'href="/posts/{post.id}/history#edit"' in page.text  # Edit, under one's own post
    assert (await client.get(f"/posts/{post.id}/history")).text.count('id="edit"') == 1
    edited = await client.post(
        f"/posts/{post.id}/edit", data={"kind": "visit", "body": "Home visit", "csrftoken": token}
    )
    assert edited.status_code == 303
    assert edited.headers["location"] == f"/children/{child.id}#post-{post.id}"
    history = await client.get(f"/posts/{post.id}/history")
    assert history.status_code == 200
    assert "Told @nosuchperson" in history.text and "Home visit" in history.text
    refused = await client.post(
        f"/posts/{post.id}/edit", data={"kind": "visit", "body": " ", "csrftoken": token}
    )
    assert refused.status_code == 422 and "Write something before posting" in refused.text


async def test_someone_elses_page_shows_no_unreachable_mentions_for_a_post_not_theirs(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    post = await do_create_post(author, child.id, "update", "cc @nosuchperson", SYSTEM)
    reader = await make.practitioner(grants=[child])
    await api_login(client, reader.email)
    page = await client.get(f"/children/{child.id}?posted={post.post.id}")
    assert page.status_code == 200 and "nobody of that handle" not in page.text
    assert f"/posts/{post.post.id}/history#edit" not in page.text
    history = await client.get(f"/posts/{post.post.id}/history")
    assert history.status_code == 200 and 'id="edit"' not in history.text
