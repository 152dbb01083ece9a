"""Helpers for the hot standby tests (tests/server/test_replica*.py): a private primary and
standby pair (loadtests/pg_private.py, shared by the run), an app reading from it with a
given staleness bound, and clients acting as one person each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Secret

from feeds.models import Child, Professional
from loadtests.pg_private import Pair, pair_available, private_pair
from server.app import create_app
from server.auth import issue_token
from server.settings import Settings
from tests import db_backends
from tests.conftest import MFA_KEY, client_for

standby_runs = pytest.mark.skipif(
    db_backends.selected() != "postgres" or not pair_available(),
    reason="the standby runs in the PostgreSQL pass (initdb, pg_ctl and pg_basebackup)",
)


@contextmanager
def migrated_pair() -> Iterator[Pair]:
    if db_backends.backend() != "postgres" or not pair_available():
        pytest.skip("the standby runs in the PostgreSQL pass")
    with private_pair() as found:
        db_backends.migrate_in_subprocess(found.primary.url)
        yield found


@asynccontextmanager
async def replica_app_on(pair: Pair, data_dir: Path, max_lag: float) -> AsyncIterator[Starlette]:
    """An app on the pair's primary (emptied first) reading from its standby."""
    await db_backends.truncate_postgres(pair.primary.url)
    settings = Settings(
        database_url=pair.primary.url,
        data_dir=data_dir,
        secret_key=Secret("test-secret-key-0123456789"),
        mfa_keys=(Secret(MFA_KEY),),
        database_replica_url=pair.standby.url,
        replica_max_lag=max_lag,
    )
    application = create_app(settings)
    try:
        async with application.router.lifespan_context(application):
            yield application
    finally:
        await pair.resume_replay()


async def client_of(app: Starlette, person: Professional) -> httpx.AsyncClient:
    client = client_for(app)
    client.headers["authorization"] = f"Bearer {(await issue_token(person, 'replica'))[1]}"
    return client


async def replica(client: httpx.AsyncClient) -> dict[str, Any]:
    """The router's report on /healthz."""
    body = (await client.get("/healthz")).json()
    assert body["status"] in {"ok", "degraded"}
    found: dict[str, Any] = body["replica"]
    return found


async def in_use(client: httpx.AsyncClient) -> bool:
    return bool((await replica(client))["state"] == "in use")


async def post(client: httpx.AsyncClient, child: Child, body: str) -> None:
    response = await client.post(
        f"/api/v1/children/{child.id}/posts", json={"kind": "concern", "body": body}
    )
    assert response.status_code == 201, response.text


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.1)
