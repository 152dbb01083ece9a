"""A shielded child's name written in ANOTHER child's post (a sibling's feed) is withheld
from everyone who does not identify the shielded child: those who see it by its label and
those who cannot see it at all. Everywhere the sibling's post reaches them: the feed (API
and page), home, since yesterday, notifications, history, the chronology (page, CSV, PDF),
the household, and the websocket live and replayed. The direct grant reads it as written.
Hotspots do not place a shielded child by its school, area or household for anyone who
sees it only by its label: it is counted under "Not shown"."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from feeds.audit.records import SYSTEM
from feeds.feed.posting import do_create_post, do_edit_post
from feeds.models import Child, Grant, Post, Professional, Role, Team
from feeds.velocity.hotspots import NOT_SHOWN
from server.auth import issue_token
from tests.conftest import Factory
from tests.live_server import receive, receive_until, ws_connect
from tests.server.test_shielded import World, build
from tests.server.test_shielded_text import assert_withheld, pdf_text, said, until_quiet

READERS = ("member", "stranger")  # a label-viewer of the shielded child, and one who cannot see it


@dataclass
class Siblings:
    w: World
    sibling: Child
    posts: list[Post]


async def siblings(make: Factory) -> Siblings:
    """A sibling everyone below holds a direct grant on; the shielded child's direct grant
    names it in two posts there (each mentioning one reader), the first edited."""
    w = await build(make)
    sibling = await make.child()
    for person in (w.member, w.stranger, w.direct):
        await make.grant(sibling, professional=person)
    posts = []
    for reader in READERS:
        handle = getattr(w, reader).handle
        made = await do_create_post(w.direct, sibling.id, "concern", said(handle), SYSTEM)
        posts.append(made.post)
    edited = said(w.member.handle) + " again"
    await do_edit_post(w.direct, posts[0].id, None, edited, SYSTEM)
    return Siblings(w, sibling, posts)


async def test_the_name_in_a_siblings_post_is_withheld_wherever_it_reaches(
    client: httpx.AsyncClient, make: Factory
) -> None:
    s = await siblings(make)
    w, b = s.w, s.sibling.id
    linked = await client.post(
        f"/api/v1/children/{b}/household",
        json={"with_child_id": w.child.id},
        headers=await w.auth("admin"),
    )
    assert linked.status_code == 201, linked.text
    paths = [
        f"/api/v1/children/{b}/posts",
        f"/children/{b}",
        "/api/v1/home",
        "/",
        "/api/v1/since-yesterday",
        "/since-yesterday",
        "/api/v1/notifications",
        "/notifications",
        f"/api/v1/posts/{s.posts[0].id}/revisions",
        f"/posts/{s.posts[0].id}/history",
        f"/api/v1/children/{b}/chronology",
        f"/api/v1/children/{b}/chronology.csv",
        f"/children/{b}/chronology",
        f"/api/v1/children/{b}/household",
        f"/children/{b}/family",
    ]
    for reader in READERS:
        auth = await w.auth(reader)
        assert (await client.post(f"/api/v1/children/{b}/follow", headers=auth)).is_success
        for path in paths:
            answer = await client.get(path, headers=auth)
            assert answer.status_code == 200, (reader, path, answer.text[:300])
            assert_withheld(answer.text)
        pdf = pdf_text(await client.get(f"/api/v1/children/{b}/chronology.pdf", headers=auth))
        assert "juniper" not in pdf.lower() and "shieldwell" not in pdf.lower(), reader
    named = await client.get(f"/api/v1/children/{b}/posts", headers=await w.auth("direct"))
    assert named.text.count("JUNIPER") == 2
    assert (await Post.get(id=s.posts[1].id)).body.startswith("Saw JUNIPER")  # nothing lost


async def test_a_post_naming_no_shielded_child_reads_as_written(
    client: httpx.AsyncClient, make: Factory
) -> None:
    s = await siblings(make)
    plain = "Juniperus berries in the garden; Shield Lane"  # no whole word of the name
    await do_create_post(s.w.direct, s.sibling.id, "update", plain, SYSTEM)
    feed = await client.get(
        f"/api/v1/children/{s.sibling.id}/posts", headers=await s.w.auth("stranger")
    )
    assert plain in feed.text


# --- the websocket ----------------------------------------------------------------------------


async def test_live_and_replayed_frames_withhold_a_name_in_a_siblings_post(live: str) -> None:
    s = await siblings(Factory())
    w = s.w
    tokens = {who: (await issue_token(getattr(w, who), "ws"))[1] for who in ("stranger", "direct")}
    async with (
        ws_connect(live, tokens["stranger"]) as stranger,
        ws_connect(live, tokens["direct"]) as direct,
    ):
        for socket in (stranger, direct):
            assert (await receive(socket))["type"] == "hello"
        async with httpx.AsyncClient(base_url=f"http://{live}") as http:
            created = await http.post(
                f"/api/v1/children/{s.sibling.id}/posts",
                json={"kind": "update", "body": said(w.stranger.handle)},
                headers={"authorization": f"Bearer {tokens['direct']}"},
            )
            assert created.status_code == 201, created.text
        seen = await receive_until(stranger, "post.created")
        mention = await receive_until(stranger, "mention")
        assert_withheld(json.dumps(seen) + json.dumps(mention["data"]["post"]))
        assert "JUNIPER" in (await receive_until(direct, "post.created"))["data"]["body"]
    async with ws_connect(live, tokens["stranger"], after=0) as replay:
        frames = await until_quiet(replay)
        replayed = [f for f in frames if f["type"] in ("post.created", "mention")]
        assert len(replayed) == 5  # three posts on the sibling, two mentions of the stranger
        assert_withheld(json.dumps(replayed))


# --- hotspots -----------------------------------------------------------------------------------


async def place(w: World, sibling: Child, make: Factory) -> Professional:
    """The shielded child and its sibling in one household, at schools and areas of their
    own; returns a manager holding a direct grant on the shielded child (the control)."""
    w.child.area = "Refuge Area"
    await w.child.save(update_fields=["area"])
    sibling.school, sibling.area = "Oak School", "North"
    await sibling.save(update_fields=["school", "area"])
    held = await Grant.get(child_id=w.child.id, team_id__isnull=False)
    await make.grant(sibling, team=await Team.get(id=held.team_id))  # the manager's team
    control = await make.professional(role=Role.MANAGER)
    for child in (w.child, sibling):
        await make.grant(child, professional=control)
    return control


async def test_hotspots_place_a_shielded_child_nowhere_for_its_label_viewers(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    sibling = await make.child()
    control = await place(w, sibling, make)
    linked = await client.post(
        f"/api/v1/children/{sibling.id}/household",
        json={"with_child_id": w.child.id},
        headers=await w.auth("admin"),
    )
    assert linked.status_code == 201, linked.text
    manager = await w.auth("manager")
    direct = {"authorization": f"Bearer {(await issue_token(control, 'test'))[1]}"}
    expected = {
        "school": ({NOT_SHOWN: 1, "Oak School": 1}, {"Refuge School": 1, "Oak School": 1}),
        "area": ({NOT_SHOWN: 1, "North": 1}, {"Refuge Area": 1, "North": 1}),
    }
    for by, (as_label, as_named) in expected.items():
        seen = await client.get("/api/v1/hotspots", params={"by": by}, headers=manager)
        assert {r["label"]: r["children"] for r in seen.json()["rows"]} == as_label, by
        named = await client.get("/api/v1/hotspots", params={"by": by}, headers=direct)
        assert {r["label"]: r["children"] for r in named.json()["rows"]} == as_named, by
    families = await client.get("/api/v1/hotspots", params={"by": "household"}, headers=manager)
    rows = {r["label"]: r["children"] for r in families.json()["rows"]}
    assert rows == {f"Household: {sibling.display_name}": 1, NOT_SHOWN: 1}
    page = await client.get("/hotspots", params={"by": "school"}, headers=manager)
    assert "Refuge" not in page.text and NOT_SHOWN in page.text
    team = await client.get("/api/v1/hotspots", params={"by": "team"}, headers=manager)
    assert sum(r["children"] for r in team.json()["rows"]) == 2  # by team: counted as any
