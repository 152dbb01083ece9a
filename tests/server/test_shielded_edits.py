"""Editing one's own post when a name in it is withheld from the editor: a team member wrote
a child's name before the child was shielded, and now reads "[name withheld]" there. Saving
an edit keeps each withheld name as it was written (nothing the editor was not shown is
overwritten, the revision keeps the original), through the API and the page's form; an
edit that drops, adds or glues a withheld name to a word is refused with a 409 and says why.
"""

from __future__ import annotations

import httpx

from feeds.access.identity import WITHHELD
from feeds.audit.records import SYSTEM
from feeds.feed.posting import do_create_post
from feeds.models import Post, PostRevision
from feeds.records.shielding import do_shield_child
from tests.conftest import Factory, api_login
from tests.server.test_shielded import REASON, World, build

WRITTEN = "Saw Juniper at the dentist with Ms Shieldwell"
SHOWN = f"Saw {WITHHELD} at the dentist with Ms {WITHHELD}"


async def own_post_then_shielded(make: Factory) -> tuple[World, Post]:
    """The team member names the child while it is not shielded; then it is."""
    w = await build(make, shielded=False)
    post = (await do_create_post(w.member, w.child.id, "update", WRITTEN, SYSTEM)).post
    await do_shield_child(w.lead, w.child.id, REASON, SYSTEM)
    return w, post


async def test_an_api_edit_keeps_the_withheld_names_as_written(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w, post = await own_post_then_shielded(make)
    member = await w.auth("member")
    feed = await client.get(f"/api/v1/children/{w.child.id}/posts", headers=member)
    shown = next(p["body"] for p in feed.json()["posts"] if p["id"] == post.id)
    assert shown == SHOWN

    edited = await client.patch(
        f"/api/v1/posts/{post.id}", json={"body": shown + ", teeth fine"}, headers=member
    )

    assert edited.status_code == 200, edited.text
    assert edited.json()["body"] == SHOWN + ", teeth fine"
    assert (await Post.get(id=post.id)).body == WRITTEN + ", teeth fine"  # nothing lost
    (revision,) = await PostRevision.filter(post_id=post.id)
    assert revision.body == WRITTEN  # the history keeps the original too
    direct = await client.get(f"/api/v1/posts/{post.id}/revisions", headers=await w.auth("direct"))
    assert direct.json()["post"]["body"] == WRITTEN + ", teeth fine"
    assert direct.json()["revisions"][0]["body"] == WRITTEN
    kind_only = await client.patch(
        f"/api/v1/posts/{post.id}", json={"kind": "visit"}, headers=member
    )
    assert kind_only.status_code == 200
    assert (await Post.get(id=post.id)).body == WRITTEN + ", teeth fine"


async def test_an_api_edit_that_drops_or_glues_a_withheld_name_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w, post = await own_post_then_shielded(make)
    member = await w.auth("member")
    for body in (
        "Saw the child at the dentist",  # both names dropped
        f"Saw {WITHHELD} at the dentist",  # one dropped
        f"{SHOWN} and {WITHHELD}",  # one added
        f"Saw x{WITHHELD} at the dentist with Ms {WITHHELD}",  # glued: "xJuniper" would show
    ):
        refused = await client.patch(
            f"/api/v1/posts/{post.id}", json={"body": body}, headers=member
        )
        assert refused.status_code == 409, (body, refused.text)
        assert "withheld" in refused.json()["error"]["message"]
        assert "Juniper" not in refused.text and "Shieldwell" not in refused.text
    assert (await Post.get(id=post.id)).body == WRITTEN
    assert await PostRevision.filter(post_id=post.id).count() == 0


async def test_the_edit_form_says_withheld_names_are_kept_and_keeps_them(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w, post = await own_post_then_shielded(make)
    await api_login(client, w.member.email)
    token = client.headers["x-csrftoken"]
    page = await client.get(f"/posts/{post.id}/history")
    assert page.status_code == 200
    assert 'id="edit-withheld"' in page.text and "Juniper" not in page.text
    assert f">{SHOWN}</textarea>" in page.text

    refused = await client.post(
        f"/posts/{post.id}/edit",
        data={"kind": "update", "body": "Saw the child at the dentist", "csrftoken": token},
    )
    assert refused.status_code == 409
    assert 'id="edit-error"' in refused.text and "Keep each" in refused.text
    assert (await Post.get(id=post.id)).body == WRITTEN

    saved = await client.post(
        f"/posts/{post.id}/edit",
        data={"kind": "update", "body": SHOWN + ", teeth fine", "csrftoken": token},
    )
    assert saved.status_code == 303, saved.text
    assert (await Post.get(id=post.id)).body == WRITTEN + ", teeth fine"
    history = await client.get(f"/posts/{post.id}/history")
    assert "Juniper" not in history.text and "Shieldwell" not in history.text


async def test_the_direct_grant_edits_the_text_as_written(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Nothing is withheld from a direct grant: its edit is taken as sent (a literal
    "[name withheld]" it types stays literal)."""
    w = await build(make)
    post = (await do_create_post(w.direct, w.child.id, "update", WRITTEN, SYSTEM)).post
    body = f"Saw Juniper; wrote {WITHHELD} for the letter"
    edited = await client.patch(
        f"/api/v1/posts/{post.id}", json={"body": body}, headers=await w.auth("direct")
    )
    assert edited.status_code == 200, edited.text
    assert (await Post.get(id=post.id)).body == body
