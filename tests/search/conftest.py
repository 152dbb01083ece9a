"""Search fixtures: one index per backend available to this run, wired into the app.

sqlite or postgres follows JIGSAW_TEST_BACKEND; meili runs too when JIGSAW_TEST_MEILI_URL
names a Meilisearch server (none can be installed on these machines: then it is skipped).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette

from feeds.audit.records import AuditContext
from feeds.feed.posting import do_create_post
from feeds.models import Child, Post, PostKind, Professional, Role
from search.base import PostDoc, SearchHit, SearchIndex, SearchQuery
from search.outbox import Drainer, drain_once
from server.auth import issue_token
from tests import db_backends
from tests.conftest import Factory

MEILI_ENV = "JIGSAW_TEST_MEILI_URL"
CTX = AuditContext(ip="127.0.0.1", request_id="test")


def available_backends() -> list[object]:
    embedded = "postgres" if db_backends.backend() == "postgres" else "sqlite"
    meili = pytest.param(
        "meili",
        marks=pytest.mark.skipif(
            not os.environ.get(MEILI_ENV),
            reason=f"no Meilisearch server: set {MEILI_ENV} to run the contract suite on it",
        ),
    )
    return [embedded, meili]


@pytest.fixture(params=available_backends())
async def index(request: pytest.FixtureRequest, app: Starlette) -> AsyncIterator[SearchIndex]:
    """The backend under test, installed in the app; the background drainer is stopped so
    tests drain explicitly (test_background_drainer runs it on purpose)."""
    drainer: Drainer = app.state.search
    await drainer.stop()
    chosen: SearchIndex
    if request.param == "meili":
        from search.meili import MeiliIndex

        key = os.environ.get("JIGSAW_TEST_MEILI_KEY")
        chosen = MeiliIndex(os.environ[MEILI_ENV], key, key, uid=f"test_{uuid.uuid4().hex[:10]}")
    elif request.param == "postgres":
        from search.postgres import PostgresIndex

        chosen = PostgresIndex()
    else:
        from search.sqlite import SqliteIndex

        chosen = SqliteIndex()
    await chosen.ensure_ready()
    await chosen.clear()
    drainer.index = chosen
    yield chosen
    if request.param == "meili":
        assert isinstance(chosen, MeiliIndex)
        await chosen._call(chosen._admin.delete_index, chosen.uid)


class FailingIndex:
    """A search engine that is down: every write raises, searches find nothing."""

    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    async def ensure_ready(self) -> None:
        return None

    async def index_posts(self, docs: Sequence[PostDoc]) -> None:
        self.calls += 1
        raise ConnectionError("search engine unreachable")

    async def remove_posts(self, post_ids: Sequence[int]) -> None:
        self.calls += 1
        raise ConnectionError("search engine unreachable")

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        return []

    async def indexed_ids(self) -> set[int]:
        raise ConnectionError("search engine unreachable")

    async def clear(self) -> None:
        return None


@dataclass
class World:
    """Child X and the people around it; `others` may not see X for different reasons."""

    child: Child
    other_child: Child
    author: Professional
    allowed: dict[str, Professional]
    others: dict[str, Professional]
    tokens: dict[str, str]

    def auth(self, actor: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[actor]}"}


async def build_world(make: Factory) -> World:
    lead = await make.professional()
    child = await make.child(lead=lead)
    other_child = await make.child()
    author = await make.practitioner(grants=[child, other_child])
    allowed = {"author": author, "lead": lead, "direct": await make.professional()}
    allowed["team"] = await make.professional()
    allowed["manager"] = await make.professional(role=Role.MANAGER)
    await make.grant(child, professional=lead)
    await make.grant(child, professional=allowed["direct"])
    team = await make.team(members=[allowed["team"]], managers=[allowed["manager"]])
    await make.grant(child, team=team)
    others = {name: await make.professional() for name in ("no_grant", "expired", "revoked")}
    others["admin"] = await make.professional(role=Role.ADMIN)
    others["other_child_only"] = await make.practitioner(grants=[other_child])
    others["deactivated"] = await make.practitioner(grants=[child], is_active=False)
    await make.grant(child, professional=others["expired"], expired=True)
    await make.grant(child, professional=others["revoked"], revoked=True)
    everyone = {**allowed, **others}
    tokens = {name: (await issue_token(p, "search"))[1] for name, p in everyone.items()}
    return World(child, other_child, author, allowed, others, tokens)


@pytest.fixture
async def world(make: Factory) -> World:
    return await build_world(make)


async def post(
    author: Professional, child: Child, body: str, kind: str = PostKind.UPDATE.value
) -> Post:
    return (await do_create_post(author, child.id, kind, body, CTX)).post


async def drain_all(index: SearchIndex) -> int:
    total = 0
    while n := await drain_once(index):
        total += n
    return total


Param = str | int | float | bool | None  # what httpx encodes as one query parameter


async def api_search(
    client: httpx.AsyncClient, world: World, actor: str, **params: Param
) -> httpx.Response:
    return await client.get("/api/v1/search", params=params, headers=world.auth(actor))
