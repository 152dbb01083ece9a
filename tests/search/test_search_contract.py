"""One contract suite, run against every search backend available to this run.

The no-leak tests post a unique word about child X and check that exactly the people
who may see X find it, through the real app and the real index.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from starlette.applications import Starlette

from feeds.clock import utcnow
from feeds.feed.posting import do_edit_post, do_remove_post
from feeds.models import AuditRecord, Grant, PostKind, SearchOutbox
from search.base import SearchIndex, SearchQuery
from search.outbox import reindex
from tests.conftest import Factory
from tests.search.conftest import CTX, Param, World, api_search, drain_all, post


def unique(prefix: str = "canary") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def test_unique_word_is_found_by_everyone_who_may_see_the_child_and_nobody_else(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    word = unique()
    written = await post(world.author, world.child, f"Older brother's new boyfriend {word} visits")
    await drain_all(index)
    for actor in world.allowed:
        found = (await api_search(client, world, actor, q=word)).json()
        assert [r["post"]["id"] for r in found["results"]] == [written.id], actor
        assert found["count"] == 1
    for actor in world.others:
        response = await api_search(client, world, actor, q=word)
        assert response.status_code in (200, 401), actor
        assert word not in response.text, actor
        if response.status_code == 200:
            assert response.json() == {"results": [], "count": 0, "next_cursor": None}, actor


async def test_the_index_itself_never_searches_outside_the_allowed_children(
    index: SearchIndex, world: World
) -> None:
    word = unique()
    await post(world.author, world.child, f"seen with {word}")
    await drain_all(index)
    assert await index.search(SearchQuery(text=word, child_ids=frozenset())) == []
    outside = frozenset({world.other_child.id})
    assert await index.search(SearchQuery(text=word, child_ids=outside)) == []
    filtered = SearchQuery(text=word, child_ids=outside, child=world.child.id)
    assert await index.search(filtered) == []
    inside = await index.search(SearchQuery(text=word, child_ids=frozenset({world.child.id})))
    assert [hit.child_id for hit in inside] == [world.child.id]


async def test_a_revoked_grant_hides_results_before_the_index_changes(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    word = unique()
    await post(world.author, world.child, f"note {word}")
    await drain_all(index)
    assert (await api_search(client, world, "direct", q=word)).json()["count"] == 1
    await Grant.filter(professional_id=world.allowed["direct"].id).update(revoked_at=utcnow())
    response = await api_search(client, world, "direct", q=word)
    assert response.json()["count"] == 0 and word not in response.text


async def test_an_expiring_grant_hides_results_once_expired(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    word = unique()
    await post(world.author, world.child, f"note {word}")
    await drain_all(index)
    past = utcnow() - timedelta(seconds=1)
    await Grant.filter(professional_id=world.allowed["direct"].id).update(expires_at=past)
    assert (await api_search(client, world, "direct", q=word)).json()["count"] == 0


async def test_a_removed_post_vanishes_at_once_and_from_the_index_after_the_drain(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    word = unique()
    written = await post(world.author, world.child, f"removed {word}")
    await drain_all(index)
    await do_remove_post(world.author, written.id, CTX)
    response = await api_search(client, world, "author", q=word)
    assert response.json()["count"] == 0 and word not in response.text
    await drain_all(index)
    allowed = frozenset({world.child.id})
    assert await index.search(SearchQuery(text=word, child_ids=allowed)) == []


async def test_an_edit_reaches_the_index_and_old_words_stop_matching(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    old, new = unique("old"), unique("new")
    written = await post(world.author, world.child, f"first version {old}")
    await drain_all(index)
    await do_edit_post(world.author, written.id, "update", f"second version {new}", CTX)
    await drain_all(index)
    assert (await api_search(client, world, "author", q=new)).json()["count"] == 1
    assert (await api_search(client, world, "author", q=old)).json()["count"] == 0


async def test_snippet_and_post_come_from_the_database_not_the_engine(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    word = unique()
    written = await post(world.author, world.child, f"visible text {word} here")
    await drain_all(index)
    # The engine's copy says something else: nothing of it may be shown.
    from search.base import PostDoc

    await written.fetch_related("author")
    stale = PostDoc.of(written)
    await index.index_posts([PostDoc(**{**vars(stale), "body": f"stale leaked {word}"})])
    found = (await api_search(client, world, "author", q=word)).json()
    assert found["count"] == 1
    result = found["results"][0]
    assert "leaked" not in str(found)
    assert result["post"]["body"] == written.body
    start, end = result["highlights"][0]
    assert result["snippet"][start:end] == word


async def test_phrases_match_in_order_and_the_last_word_matches_as_a_prefix(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    tag = unique("tag")
    written = await post(world.author, world.child, f"{tag} the older brother has a new boyfriend")
    await drain_all(index)

    async def ids(q: str) -> list[int]:
        body = (await api_search(client, world, "author", q=q)).json()
        return [r["post"]["id"] for r in body["results"]]

    assert await ids(f'{tag} "new boyfriend"') == [written.id]
    assert await ids(f'{tag} "boyfriend new"') == []
    assert await ids(f"{tag} broth") == [written.id]
    assert await ids(f"{tag} boyf") == [written.id]
    assert await ids(f"{tag} zzqx") == []
    assert await ids(tag[:-2]) == [written.id]  # prefix of the tag itself


async def test_filters_narrow_by_child_kind_author_agency_and_dates(
    index: SearchIndex, client: httpx.AsyncClient, world: World, make: Factory
) -> None:
    word = unique()
    second = await make.practitioner(grants=[world.child, world.other_child])
    a = await post(world.author, world.child, f"{word} one", PostKind.HUNCH.value)
    b = await post(second, world.other_child, f"{word} two", PostKind.CONCERN.value)
    await drain_all(index)

    async def ids(**params: Param) -> set[int]:
        body = (await api_search(client, world, "author", q=word, **params)).json()
        return {r["post"]["id"] for r in body["results"]}

    assert await ids() == {a.id, b.id}
    assert await ids(child=world.child.id) == {a.id}
    assert await ids(kind="concern") == {b.id}
    assert await ids(author=world.author.id) == {a.id}
    assert await ids(agency=second.agency_id) == {b.id}
    today = utcnow().date()
    assert await ids(since=today.isoformat(), until=today.isoformat()) == {a.id, b.id}
    assert await ids(until=(today - timedelta(days=1)).isoformat()) == set()
    assert await ids(since=(today + timedelta(days=1)).isoformat()) == set()


async def test_pages_follow_the_cursor_in_both_orders_without_repeats(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    word = unique()
    posts = [await post(world.author, world.child, f"{word} number {i}") for i in range(5)]
    await drain_all(index)
    for order in ("newest", "relevance"):
        seen: list[int] = []
        cursor: int | None = None
        for _ in range(5):
            params: dict[str, Param] = {"q": word, "limit": 2, "order": order}
            if cursor is not None:
                params["cursor"] = cursor
            body = (await api_search(client, world, "author", **params)).json()
            seen += [r["post"]["id"] for r in body["results"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(p.id for p in posts), order
        if order == "newest":
            assert seen == sorted(seen, reverse=True)


async def test_every_search_is_audited_with_who_what_and_how_many(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    word = unique()
    await post(world.author, world.child, f"audited {word}")
    await drain_all(index)
    await api_search(client, world, "direct", q=word)
    await api_search(client, world, "no_grant", q=word)
    records = await AuditRecord.filter(action="search").order_by("id")
    assert [(r.actor_id, r.detail["q"], r.detail["count"]) for r in records] == [
        (world.allowed["direct"].id, word, 1),
        (world.others["no_grant"].id, word, 0),
    ]
    assert records[0].detail["child_ids"] == [world.child.id]


async def test_posting_works_while_the_engine_is_down_and_catches_up_after(
    index: SearchIndex, client: httpx.AsyncClient, world: World, app: Starlette
) -> None:
    from tests.search.conftest import FailingIndex

    word = unique()
    down = FailingIndex()
    app.state.search.index = down
    response = await client.post(
        f"/api/v1/children/{world.child.id}/posts",
        json={"kind": "update", "body": f"posted during outage {word}"},
        headers=world.auth("author"),
    )
    assert response.status_code == 201
    assert await drain_all(down) == 0 and down.calls == 1
    row = await SearchOutbox.get(post_id=response.json()["id"])
    assert row.processed_at is None and row.attempts == 1
    assert "unreachable" in row.last_error
    app.state.search.index = index  # the engine is back
    assert await drain_all(index) == 1
    assert (await api_search(client, world, "author", q=word)).json()["count"] == 1
    row = await SearchOutbox.get(post_id=response.json()["id"])
    assert row.processed_at is not None


async def test_background_drainer_indexes_new_posts_within_seconds(
    index: SearchIndex, client: httpx.AsyncClient, world: World, app: Starlette
) -> None:
    import asyncio

    word = unique()
    app.state.search.start()
    try:
        await post(world.author, world.child, f"live {word}")
        app.state.search.kick()
        for _ in range(50):
            if (await api_search(client, world, "author", q=word)).json()["count"]:
                break
            await asyncio.sleep(0.1)
        assert (await api_search(client, world, "author", q=word)).json()["count"] == 1
    finally:
        await app.state.search.stop()


async def test_reindex_rebuilds_the_index_from_the_database(
    index: SearchIndex, client: httpx.AsyncClient, world: World
) -> None:
    kept, gone = unique(), unique()
    await post(world.author, world.child, f"kept {kept}")
    removed = await post(world.author, world.child, f"gone {gone}")
    await do_remove_post(world.author, removed.id, CTX)
    progress: list[tuple[int, int]] = []
    assert await reindex(index, lambda done, total: progress.append((done, total))) == 1
    assert progress[-1] == (1, 1)
    allowed = frozenset({world.child.id})
    assert len(await index.search(SearchQuery(text=kept, child_ids=allowed))) == 1
    assert await index.search(SearchQuery(text=gone, child_ids=allowed)) == []
