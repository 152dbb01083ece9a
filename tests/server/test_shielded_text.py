"""A shielded child's name written in a post: a direct grant may write "Saw Juniper at
school"; everyone who sees the child's label (team grants, managers, break-glass) reads the
name withheld wherever the post reaches them (feed, home, since yesterday, notifications,
history, chronology and its exports, the household, the websocket live and replayed). The
stored text is untouched and direct grants still read it. Lists sorted by name place a
shielded child by the name as seen (its label), never by its real name's initial."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
from pypdf import PdfReader
from websockets.asyncio.client import ClientConnection

from feeds.access import identity
from feeds.audit.records import SYSTEM
from feeds.feed.posting import do_create_post, do_edit_post
from feeds.models import Child, Follow, Post, Role
from feeds.records.shielding import do_shield_child
from server.auth import issue_token
from tests.conftest import Factory
from tests.live_server import receive, receive_until, ws_connect
from tests.server.test_shielded import REFERENCE, World, build

WORDS = ("juniper", "shieldwell", REFERENCE.lower())  # the name's parts and the reference


def said(handle: str) -> str:
    """A post naming the child three ways, in other cases, and mentioning `handle`."""
    return f"Saw JUNIPER at school with the shieldwell family (ref {REFERENCE}) @{handle}"


def assert_withheld(text: str) -> None:
    lowered = text.lower()
    assert [w for w in WORDS if w in lowered] == []
    assert identity.WITHHELD in text


async def written(w: World) -> Post:
    """The direct grant writes the name, then edits it (so a revision holds it too)."""
    made = await do_create_post(w.direct, w.child.id, "update", said(w.member.handle), SYSTEM)
    edited = said(w.member.handle) + " again"
    return (await do_edit_post(w.direct, made.post.id, None, edited, SYSTEM)).post


def pdf_text(response: httpx.Response) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)


async def test_the_name_in_a_post_is_withheld_wherever_it_reaches_a_team_grant(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    sibling = await make.child()
    await make.grant(sibling, professional=w.member)
    linked = await client.post(
        f"/api/v1/children/{sibling.id}/household",
        json={"with_child_id": w.child.id},
        headers=await w.auth("admin"),
    )
    assert linked.status_code == 201, linked.text
    post = await written(w)
    member = await w.auth("member")
    assert (await client.post(f"/api/v1/children/{w.child.id}/follow", headers=member)).is_success
    c = w.child.id
    paths = [
        f"/api/v1/children/{c}/posts",
        f"/children/{c}",
        "/api/v1/home",
        "/",
        "/api/v1/since-yesterday",
        "/since-yesterday",
        "/api/v1/notifications",
        "/notifications",
        f"/api/v1/posts/{post.id}/revisions",
        f"/posts/{post.id}/history",
        f"/api/v1/children/{c}/chronology",
        f"/api/v1/children/{c}/chronology.csv",
        f"/children/{c}/chronology",
        f"/api/v1/children/{sibling.id}/household",
        f"/children/{sibling.id}/family",
    ]
    for path in paths:
        answer = await client.get(path, headers=member)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert_withheld(answer.text)
    pdf = pdf_text(await client.get(f"/api/v1/children/{c}/chronology.pdf", headers=member))
    assert [word for word in WORDS if word in pdf.lower()] == []
    for who in ("manager", "lead"):  # the lead holds a direct grant: the name
        feed = await client.get(f"/api/v1/children/{c}/posts", headers=await w.auth(who))
        assert ("JUNIPER" in feed.text) == (who == "lead"), who
    own = await client.get(f"/api/v1/posts/{post.id}/revisions", headers=await w.auth("direct"))
    assert "JUNIPER" in own.text and identity.WITHHELD not in own.text
    assert (await Post.get(id=post.id)).body.startswith("Saw JUNIPER")  # nothing lost


async def test_the_post_answered_to_its_author_withholds_the_name_as_they_read_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """The 201 answer is the post as its author may read it: a team grant gets the name
    withheld, a direct grant the text as written; the stored text is the same for both."""
    w = await build(make)
    for who, shown in (("member", False), ("direct", True)):
        answer = await client.post(
            f"/api/v1/children/{w.child.id}/posts",
            json={"kind": "update", "body": said(w.lead.handle)},
            headers=await w.auth(who),
        )
        assert answer.status_code == 201, answer.text
        if shown:
            assert answer.json()["body"] == said(w.lead.handle)
        else:
            assert_withheld(answer.json()["body"])
        stored = await Post.get(id=answer.json()["id"])
        assert stored.body == said(w.lead.handle)
    plain = await make.child()
    await make.grant(plain, professional=w.member)
    named = await client.post(
        f"/api/v1/children/{plain.id}/posts",
        json={"kind": "update", "body": "Juniper was not at school"},
        headers=await w.auth("member"),
    )
    assert named.json()["body"] == "Juniper was not at school"  # only a shielded child's own


async def test_break_glass_reads_the_name_withheld(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    await written(w)
    opened = await client.post(
        f"/api/v1/children/{w.child.id}/break-glass",
        json={"reason": "Child at A&E, need the history now"},
        headers=await w.auth("stranger"),
    )
    assert opened.status_code == 201
    feed = await client.get(
        f"/api/v1/children/{w.child.id}/posts", headers=await w.auth("stranger")
    )
    assert_withheld(feed.text)


async def test_names_are_withheld_as_whole_words_of_three_letters_or_more(
    make: Factory,
) -> None:
    assert identity.name_tokens("Al Mary-Jane O'Neil", "R-12") == [
        "Al Mary-Jane O'Neil",
        "R-12",
        "Mary-Jane",
        "O'Neil",
        "Mary",
        "Jane",
        "Neil",
    ]
    shielded = await Child.create(display_name="Mary-Jane Neil", reference="R-12")
    await do_shield_child(
        await make.professional(role=Role.ADMIN), shielded.id, "Family in a refuge", SYSTEM
    )
    redact = await identity.shielded_names()
    assert redact("The Neils saw mary-jane; NEIL and r-12, Marymount") == (
        "The Neils saw [name withheld]; [name withheld] and [name withheld], Marymount"
    )
    assert redact("Neil") == "[name withheld]"  # in any child's post, not only its own
    assert redact.named_in("Saw NEIL") == {shielded.id} and redact.named_in("Neils") == set()
    assert redact.named_by(["neil"]) == redact.named_by(["neils"]) == {shielded.id}
    assert redact.named_by([], prefix="mar") == {shielded.id}  # as typed: Mary's start
    assert redact.named_by(["marymount", "al"]) == set()
    other, named = 10**6, {shielded.id}  # a post on another child; the search named it
    assert redact.hides_hit(shielded.id, "", named)  # a hit on the shielded child
    assert redact.hides_hit(other, "saw Neil", named)  # a hit naming it
    assert not redact.hides_hit(other, "saw Nina", named)
    assert not redact.hides_hit(shielded.id, "saw Neil", set())  # the search named nobody
    assert not redact.except_for({shielded.id}).hidden


# --- sort order -----------------------------------------------------------------------------


async def ordered_pair(make: Factory) -> tuple[World, Child]:
    """A shielded child whose real name sorts first ("Aaron Ash"), and a named child that
    sorts before its label ("Beth Brown" < "Shielded child #n"); the team sees both."""
    w = await build(make, shielded=False)
    w.child.display_name = "Aaron Ash"
    await w.child.save(update_fields=["display_name"])
    await do_shield_child(w.lead, w.child.id, "Family moved to a refuge on Tuesday", SYSTEM)
    other = await Child.create(display_name="Beth Brown", reference="BB-1")
    for person in (w.direct, w.member, w.manager):
        await make.grant(other, professional=person)
    # The same history as the shielded child's: the board ranks them level, ties by name.
    await do_create_post(w.direct, other.id, "concern", "Bruising noticed at the visit", SYSTEM)
    return w, other


async def test_lists_by_name_place_a_shielded_child_by_its_label(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w, other = await ordered_pair(make)
    label = identity.label(w.child.id)
    board = await client.get("/api/v1/board", headers=await w.auth("manager"))
    assert [r["child"]["display_name"] for r in board.json()["rows"]] == ["Beth Brown", label]
    for child in (w.child, other):
        await Follow.create(child=child, professional=w.member)
    mine = await client.get("/api/v1/my-children", headers=await w.auth("member"))
    assert [c["display_name"] for c in mine.json()["children"]] == ["Beth Brown", label]
    assert "Aaron" not in mine.text
    listed = await client.get("/api/v1/children", headers=await w.auth("member"))
    assert [c["display_name"] for c in listed.json()["children"]] == ["Beth Brown", label]
    page = await client.get("/search", headers=await w.auth("member"))
    assert "Aaron" not in page.text
    assert page.text.index("Beth Brown") < page.text.index(label)


async def test_the_direct_grant_still_sorts_by_the_real_name(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w, _ = await ordered_pair(make)
    listed = await client.get("/api/v1/children", headers=await w.auth("direct"))
    assert [c["display_name"] for c in listed.json()["children"]] == ["Aaron Ash", "Beth Brown"]


# --- the websocket ----------------------------------------------------------------------------


async def people(live: str) -> tuple[World, dict[str, str]]:
    w = await build(Factory())
    tokens = {who: (await issue_token(getattr(w, who), "ws"))[1] for who in ("member", "direct")}
    return w, tokens


async def post_named(live: str, w: World, token: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{live}") as http:
        created = await http.post(
            f"/api/v1/children/{w.child.id}/posts",
            json={"kind": "update", "body": said(w.member.handle)},
            headers={"authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text


async def test_live_and_replayed_frames_withhold_the_name(live: str) -> None:
    w, tokens = await people(live)
    async with (
        ws_connect(live, tokens["member"]) as member,
        ws_connect(live, tokens["direct"]) as direct,
    ):
        for socket in (member, direct):
            assert (await receive(socket))["type"] == "hello"
        await post_named(live, w, tokens["direct"])
        seen = await receive_until(member, "post.created")
        mention = await receive_until(member, "mention")
        assert_withheld(json.dumps(seen) + json.dumps(mention["data"]["post"]))
        assert "JUNIPER" in (await receive_until(direct, "post.created"))["data"]["body"]
    async with ws_connect(live, tokens["member"], after=0) as replay:
        frames = await until_quiet(replay)
        replayed = [f for f in frames if f["type"] in ("post.created", "mention")]
        assert len(replayed) == 3  # the first post (no name), the named one, its mention
        assert_withheld(json.dumps(replayed))


async def until_quiet(socket: ClientConnection) -> list[dict[str, Any]]:
    frames = []
    while True:
        try:
            frames.append(await receive(socket, timeout=1.0))
        except TimeoutError:
            return frames
