"""Fault run: search unavailable. Posting never depends on search; the outbox catches up.

Two outages, on whichever database this run uses (SQLite or PostgreSQL):
- the outbox drainer is stopped (a search worker that died), then started again;
- the app is configured for Meilisearch at a loopback port where nothing listens (no
  Meilisearch exists on these machines: a closed port is what "down" looks like), then
  restarted on the embedded backend.
During each, posts made through the HTTP API get 201 and are readable, and the outbox
holds them; afterwards search finds every one of them, exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from feeds.models import Child, SearchOutbox
from search.meili import MeiliIndex
from search.outbox import Drainer, pending
from server.app import create_app
from server.auth import issue_token
from server.settings import Settings
from tests import db_backends
from tests.conftest import Factory, client_for

POSTS = 12


def closed_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def running_app(settings: Settings, *, fresh: bool) -> AsyncIterator[Starlette]:
    """The app with its real lifespan; `fresh` empties a PostgreSQL database first."""
    if fresh and not settings.is_sqlite:
        await db_backends.truncate_postgres(settings.database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def setup_world(make: Factory) -> tuple[Child, dict[str, str]]:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    return child, {"authorization": f"Bearer {(await issue_token(author, 'outage'))[1]}"}


async def post_during_outage(
    http: httpx.AsyncClient, child: Child, auth: dict[str, str], word: str
) -> list[int]:
    """Post POSTS times; each must be acknowledged and readable at once."""
    ids = []
    for n in range(POSTS):
        created = await http.post(
            f"/api/v1/children/{child.id}/posts",
            json={"kind": "update", "body": f"home visit {word} number {n}"},
            headers={**auth, "idempotency-key": f"{word}-{n}"},
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    feed = await http.get(f"/api/v1/children/{child.id}/posts?limit=50", headers=auth)
    assert feed.status_code == 200
    assert {p["id"] for p in feed.json()["posts"]} >= set(ids)
    return ids


async def search_ids(http: httpx.AsyncClient, auth: dict[str, str], word: str) -> list[int]:
    found = await http.get(f"/api/v1/search?q={word}&limit=50", headers=auth)
    assert found.status_code == 200, found.text
    return [r["post"]["id"] for r in found.json()["results"]]


async def caught_up(http: httpx.AsyncClient, auth: dict[str, str], word: str) -> list[int]:
    """Search results for `word` once the outbox is empty (the drainer runs every 0.5 s)."""
    for _ in range(200):
        if await pending() == 0:
            return await search_ids(http, auth, word)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the outbox never drained: {await pending()} rows pending")


async def test_a_stopped_search_worker_loses_nothing(app: Starlette, make: Factory) -> None:
    child, auth = await setup_world(make)
    word = f"outage{secrets.token_hex(4)}"
    drainer: Drainer = app.state.search
    await drainer.stop()
    async with client_for(app) as http:
        ids = await post_during_outage(http, child, auth, word)
        queued: list[Any] = await SearchOutbox.filter(processed_at__isnull=True).values_list(
            "post_id", flat=True
        )
        assert sorted(queued) == sorted(ids)
        assert await search_ids(http, auth, word) == []  # not indexed yet: nothing drained
        health = (await http.get("/healthz")).json()
        assert health["status"] == "degraded" and health["search_pending"] == POSTS
        drainer.start()
        found = await caught_up(http, auth, word)
        assert (await http.get("/healthz")).json()["status"] == "ok"
    assert sorted(found) == sorted(ids)  # every post, each exactly once


async def test_an_engine_that_dies_while_running_is_retried_until_it_returns(
    app: Starlette, make: Factory
) -> None:
    child, auth = await setup_world(make)
    word = f"enginedied{secrets.token_hex(4)}"
    drainer: Drainer = app.state.search
    working = drainer.index
    drainer.index = MeiliIndex(f"http://127.0.0.1:{closed_port()}", None, None)
    async with client_for(app) as http:
        ids = await post_during_outage(http, child, auth, word)
        # The drainer tries, fails, and keeps every row with the error. Wait for all of
        # them: on a loaded box one pass may reach only some rows within a few seconds.
        for _ in range(600):
            retried = SearchOutbox.filter(processed_at__isnull=True, attempts__gt=1)
            if await retried.count() >= len(ids):
                break
            await asyncio.sleep(0.05)
        rows = await SearchOutbox.filter(processed_at__isnull=True)
        assert Counter(r.post_id for r in rows) == Counter(ids)
        assert all(r.attempts > 1 and "Meilisearch" in r.last_error for r in rows)
        health = (await http.get("/healthz")).json()
        assert health["status"] == "degraded" and health["search"] == "unavailable"
        drainer.index = working
        found = await caught_up(http, auth, word)
    assert sorted(found) == sorted(ids)


async def test_meilisearch_down_posting_works_and_the_index_catches_up(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    word = f"meilidown{secrets.token_hex(4)}"
    monkeypatch.setenv("JIGSAW_MEILI_URL", f"http://127.0.0.1:{closed_port()}")
    async with running_app(settings, fresh=True) as app, client_for(app) as http:
        child, auth = await setup_world(Factory())
        ids = await post_during_outage(http, child, auth, word)
        health = await http.get("/healthz")
        assert health.status_code == 200, health.text  # the service is up; search is not
        assert health.json()["status"] == "degraded" and health.json()["search"] == "unavailable"
        refused = await http.get(f"/api/v1/search?q={word}", headers=auth)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "unavailable"
        assert "search" in refused.json()["error"]["message"].lower()
        page = await http.get(f"/search?q={word}", headers=auth)
        assert page.status_code == 503 and "Traceback" not in page.text
        await asyncio.sleep(1.2)  # two drainer rounds: it keeps failing to reach the engine
        queued: list[Any] = await SearchOutbox.filter(processed_at__isnull=True).values_list(
            "post_id", flat=True
        )
        assert sorted(queued) == sorted(ids)
        assert health.json()["search_pending"] == POSTS
    monkeypatch.delenv("JIGSAW_MEILI_URL")
    async with running_app(settings, fresh=False) as app, client_for(app) as http:
        found = await caught_up(http, auth, word)
        health = (await http.get("/healthz")).json()
    assert sorted(found) == sorted(ids)
    assert health["status"] == "ok" and health["search"] == "ok"


@contextlib.asynccontextmanager
async def hanging_engine() -> AsyncIterator[tuple[str, list[str]]]:
    """A server that accepts connections, reads the request and never answers (a hung
    engine, not a refusing one). Yields its URL and the request lines it received."""
    seen: list[str] = []
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        seen.append((await reader.readline()).decode(errors="replace").strip())

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_a_hanging_engine_answers_503_and_then_is_not_waited_for(
    app: Starlette, make: Factory
) -> None:
    _child, auth = await setup_world(make)
    drainer: Drainer = app.state.search
    working = drainer.index
    async with hanging_engine() as (url, seen), client_for(app) as http:
        drainer.index = hanging = MeiliIndex(url, None, None)
        answers = [
            await http.get("/api/v1/search", params={"q": "bruise"}, headers=auth)
            for _ in range(hanging.breaker.failures_to_open + 2)
        ]
        searches = [line for line in seen if "/search" in line]
        drainer.index = working
    assert {a.status_code for a in answers} == {503}
    assert all(a.headers.get("retry-after") for a in answers)
    assert all("try again" in a.json()["error"]["message"].lower() for a in answers)
    # Each search waited for the engine until the breaker opened; after that none did.
    assert len(searches) == hanging.breaker.failures_to_open
    assert hanging.breaker.is_open
