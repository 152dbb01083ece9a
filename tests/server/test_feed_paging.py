"""Reaching older posts without JavaScript: "Older posts" on the home stream (keyset by
id), and a child page that opens at the page holding a given post (a search hit), only
for those who may see it."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from feeds.audit.records import AuditContext
from feeds.feed.posting import do_create_post, do_remove_post
from feeds.models import AuditRecord, Post
from search.outbox import drain_once
from tests.conftest import Factory
from tests.server.test_pages import child_named, logged_in, submit

CTX = AuditContext(ip="127.0.0.1", request_id="test")


def post_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="post [^"]*" id="post-(\d+)"', page)]


def older_link(page: str) -> str | None:
    match = re.search(r'<a class="button secondary" href="([^"]+)" data-older-for', page)
    return match.group(1) if match else None


async def test_the_home_stream_pages_back_through_older_posts(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Gus Almeida")
    person = await make.practitioner(grants=[child])
    await logged_in(client, person)
    assert (
        await submit(client, f"/children/{child.id}", f"/children/{child.id}/follow")
    ).status_code == 303
    written = [
        (await do_create_post(person, child.id, "update", f"note {n}", CTX)).post.id
        for n in range(45)
    ]
    newest_first = written[::-1]
    seen: list[int] = []
    path: str | None = "/"
    pages = 0
    while path:
        page = (await client.get(path)).text
        seen += post_ids(page)
        path = older_link(page)
        pages += 1
        if pages > 1:
            assert 'data-live-feed="home"' not in page  # new posts never land on an old page
            assert '<a href="/">Back to the newest</a>' in page
    assert seen == newest_first and pages == 3
    assert older_link((await client.get("/")).text) == f"/?before={newest_first[19]}"
    beyond = (await client.get(f"/?before={written[0]}")).text
    assert post_ids(beyond) == [] and "No older posts." in beyond
    assert (await client.get("/?before=abc")).status_code == 422


async def test_a_child_page_opens_at_the_page_that_holds_a_post(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Hana Sato")
    person = await make.practitioner(grants=[child])
    written = [
        (await do_create_post(person, child.id, "update", f"entry {n}", CTX)).post.id
        for n in range(50)
    ]
    await logged_in(client, person)
    newest_first = written[::-1]
    pages = [newest_first[:20], newest_first[20:40], newest_first[40:]]
    for index, target in (
        (0, newest_first[0]),
        (0, newest_first[19]),
        (1, newest_first[20]),
        (1, newest_first[39]),
        (2, written[0]),
    ):
        page = (await client.get(f"/children/{child.id}", params={"post": target})).text
        assert post_ids(page) == pages[index], (index, target)
        assert ('data-live-feed="child"' in page) == (index == 0)
        record = await AuditRecord.filter(action="feed.read").order_by("-id").first()
        assert record is not None and record.detail["post"] == target  # the read says why
    # The same pages as following "Older posts" from the top.
    following = older_link((await client.get(f"/children/{child.id}")).text)
    assert following and post_ids((await client.get(following)).text) == pages[1]


async def test_a_post_you_may_not_see_or_that_is_gone_is_not_found(
    client: httpx.AsyncClient, make: Factory
) -> None:
    mine, theirs = await child_named("Ines Duarte"), await child_named("Jomo Kariuki")
    person = await make.practitioner(grants=[mine])
    other = await make.practitioner(grants=[theirs])
    hidden = (await do_create_post(other, theirs.id, "concern", "secret marker qq", CTX)).post
    removed = (await do_create_post(person, mine.id, "update", "to be removed", CTX)).post
    await do_remove_post(person, removed.id, CTX)
    await logged_in(client, person)
    # Another child's post through my child's page: no such post here.
    elsewhere = await client.get(f"/children/{mine.id}", params={"post": hidden.id})
    assert elsewhere.status_code == 404 and "secret marker" not in elsewhere.text
    gone = await client.get(f"/children/{mine.id}", params={"post": removed.id})
    assert gone.status_code == 404
    missing = await client.get(f"/children/{mine.id}", params={"post": hidden.id + 1000})
    assert missing.status_code == 404 and missing.text == elsewhere.text
    # Through the hidden child's own page: the usual refusal, whatever the post.
    refused = await client.get(f"/children/{theirs.id}", params={"post": hidden.id})
    plain = await client.get(f"/children/{theirs.id}")
    assert refused.status_code == plain.status_code == 404
    assert "secret marker" not in refused.text and refused.text == plain.text
    assert await Post.filter(id=hidden.id).exists()


async def test_a_search_hit_links_to_the_page_that_holds_the_post(
    app: Starlette, client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Kofi Mensah")
    person = await make.practitioner(grants=[child])
    old = (
        await do_create_post(person, child.id, "hunch", "trampoline at the other house", CTX)
    ).post
    for n in range(25):
        await do_create_post(person, child.id, "update", f"later {n}", CTX)
    await logged_in(client, person)
    await app.state.search.stop()
    while await drain_once(app.state.search.index):
        pass
    page = (await client.get("/search", params={"q": "trampoline"})).text
    href = f"/children/{child.id}?post={old.id}#post-{old.id}"
    assert f'href="{href}"' in page
    opened = (await client.get(href.split("#")[0])).text
    assert f'id="post-{old.id}"' in opened
    assert f'id="post-{old.id}"' not in (await client.get(f"/children/{child.id}")).text
