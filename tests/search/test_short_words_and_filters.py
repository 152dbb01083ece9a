"""Two-letter words and filter-only searches ("all concerns since yesterday"), on every
backend of the run: the same contract for SQLite FTS5, PostgreSQL and Meilisearch."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from feeds.clock import utcnow
from feeds.models import AuditRecord, Post, PostKind
from search.base import SearchIndex, SearchQuery
from tests.conftest import Factory, api_login
from tests.search.conftest import Param, World, api_search, drain_all, post


def marker() -> str:
    return f"m{uuid.uuid4().hex[:8]}"


async def found(client: httpx.AsyncClient, world: World, **params: Param) -> list[int]:
    response = await api_search(client, world, "author", **params)
    assert response.status_code == 200, response.text
    return [r["post"]["id"] for r in response.json()["results"]]


async def test_two_letter_words_are_found_as_whole_words(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    gp = await post(world.author, world.child, "GP letter received about the asthma review")
    he = await post(world.author, world.child, "He said no to the visit; he was calm")
    other = await post(world.author, world.child, "Health visitor called, general practice closed")
    await drain_all(index)
    assert await found(client, world, q="GP") == [gp.id]
    assert await found(client, world, q="gp letter") == [gp.id]
    # "he" and "no" are stop words in English stemming: still found as written, and never
    # as a prefix ("he" must not find "Health").
    assert await found(client, world, q="he") == [he.id]
    assert await found(client, world, q="no") == [he.id]
    assert other.id not in await found(client, world, q="he")


async def test_a_filter_only_search_lists_every_post_the_filters_allow(
    index: SearchIndex, client: httpx.AsyncClient, world: World, make: Factory
) -> None:
    second = await make.practitioner(grants=[world.child, world.other_child])
    concerns = [
        await post(world.author, world.child, f"concern {marker()}", PostKind.CONCERN.value),
        await post(second, world.other_child, f"concern {marker()}", PostKind.CONCERN.value),
    ]
    await post(world.author, world.child, f"hunch {marker()}", PostKind.HUNCH.value)
    old = await post(world.author, world.child, f"old concern {marker()}", PostKind.CONCERN.value)
    await Post.filter(id=old.id).update(created_at=utcnow() - timedelta(days=3))
    await drain_all(index)  # the index reads the post's time when it drains
    yesterday = (utcnow().date() - timedelta(days=1)).isoformat()
    newest_first = [p.id for p in reversed(concerns)]
    assert await found(client, world, kind="concern", since=yesterday) == newest_first
    assert await found(client, world, kind="concern") == [old.id, *newest_first]  # by id
    assert await found(client, world, kind="concern", child=world.other_child.id) == [
        concerns[1].id
    ]
    assert await found(client, world, author=second.id) == [concerns[1].id]
    response = await api_search(client, world, "author", kind="concern", since=yesterday)
    first = response.json()["results"][0]
    assert first["snippet"].startswith("concern ") and first["highlights"] == []
    record = await AuditRecord.filter(action="search").order_by("-id").first()
    assert record is not None and record.detail["q"] == "" and record.detail["count"] == 2


async def test_filter_only_results_page_in_both_orders_without_repeats(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    posts = [await post(world.author, world.child, f"note {marker()}") for _ in range(5)]
    await drain_all(index)
    for order in ("newest", "relevance"):
        seen: list[int] = []
        cursor: int | None = None
        for _ in range(5):
            params: dict[str, Param] = {"child": world.child.id, "limit": 2, "order": order}
            if cursor is not None:
                params["cursor"] = cursor
            body = (await api_search(client, world, "author", **params)).json()
            seen += [r["post"]["id"] for r in body["results"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted((p.id for p in posts), reverse=True), order


async def test_the_index_lists_without_words_only_within_the_allowed_children(
    index: SearchIndex, world: World
) -> None:
    mine = await post(world.author, world.child, f"concern {marker()}", PostKind.CONCERN.value)
    await post(world.author, world.other_child, f"concern {marker()}", PostKind.CONCERN.value)
    await drain_all(index)
    allowed = frozenset({world.child.id})
    hits = await index.search(SearchQuery(text="", child_ids=allowed, kind="concern"))
    assert [hit.post_id for hit in hits] == [mine.id]
    assert await index.search(SearchQuery(text="", child_ids=frozenset(), kind="concern")) == []


async def test_words_or_a_filter_are_needed(client: httpx.AsyncClient, world: World) -> None:
    for params in ({}, {"q": " "}, {"q": "x"}, {"q": "?!"}):
        response = await api_search(client, world, "author", **params)
        assert response.status_code == 422, params
        assert "filter" in response.json()["error"]["message"]


async def test_the_page_offers_filters_by_name_and_searches_within_one_child(
    index: SearchIndex, client: httpx.AsyncClient, world: World, make: Factory
) -> None:
    elsewhere = await make.child()
    stranger = await make.practitioner(grants=[elsewhere], name="Zed Outsider")
    await post(stranger, elsewhere, "elsewhere")  # never wrote to a child the author sees
    ours = await post(world.author, world.child, "GP says the rash is eczema", "concern")
    theirs = await post(world.author, world.other_child, "GP visit booked", "concern")
    await drain_all(index)
    await api_login(client, world.author.email)
    child_page = (await client.get(f"/children/{world.child.id}")).text
    assert f'<input type="hidden" name="child" value="{world.child.id}">' in child_page
    assert 'aria-label="Search posts about ' in child_page
    page = await client.get("/search", params={"q": "GP", "child": world.child.id})
    assert page.status_code == 200
    assert f"<h1>Search posts about {world.child.display_name}</h1>" in page.text
    assert f'id="post-{ours.id}"' not in page.text  # results are not feed items
    assert f"?post={ours.id}#post-{ours.id}" in page.text
    assert f"?post={theirs.id}#" not in page.text
    assert f'<option value="{world.author.id}"' in page.text  # authors by name
    assert f"{world.author.name}, " in page.text
    assert "Zed Outsider" not in page.text  # only authors of posts the caller may see
    listing = await client.get("/search", params={"kind": "concern"})  # no words at all
    assert listing.status_code == 200 and "2 results" in listing.text
    assert '<option value="concern" selected>' in listing.text
