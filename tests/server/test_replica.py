"""Heavy reads from a PostgreSQL hot standby (feeds/replica.py): used when it is within the
staleness bound, never for a writer's next read before it has replayed their write, and
never at the cost of an error (a stopped standby sends reads to the primary).

The standby tests run a private primary and standby pair (loadtests/pg_private.py) in
the PostgreSQL pass; the settings tests run on both backends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Secret

from feeds.models import Child, Professional
from server.app import create_app
from server.auth import issue_token
from server.settings import Settings, SettingsError, load_settings
from tests import db_backends
from tests.conftest import MFA_KEY, Factory, client_for
from loadtests.pg_private import Pair, pair_available, private_pair

standby_runs = pytest.mark.skipif(
    db_backends.backend() != "postgres" or not pair_available(),
    reason="the standby runs in the PostgreSQL pass (initdb, pg_ctl and pg_basebackup)",
)
MAX_LAG = 1.0


def test_replica_url_needs_postgresql_on_both_sides() -> None:
    base = {"JIGSAW_DEMO": "true", "JIGSAW_DATABASE_REPLICA_URL": "postgres://h:5433/db"}
    with pytest.raises(SettingsError, match="SQLite has no replicas"):
        load_settings({**base, "JIGSAW_DATABASE_URL": "sqlite:///tmp/x.sqlite3"})
    with pytest.raises(SettingsError, match="JIGSAW_DATABASE_REPLICA_URL"):
        load_settings({**base, "JIGSAW_DATABASE_URL": "postgres://h/db",
                       "JIGSAW_DATABASE_REPLICA_URL": "sqlite:///tmp/x"})  # fmt: skip
    found = load_settings({**base, "JIGSAW_DATABASE_URL": "postgres://h:5432/db"})
    assert found.database_replica_url == "postgres://h:5433/db"
    assert found.replica_max_lag == 5.0


@pytest.mark.parametrize("raw", ["0", "abc", "nan", "301", "-1"])
def test_replica_max_lag_out_of_range_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="JIGSAW_REPLICA_MAX_LAG_SECONDS"):
        load_settings({"JIGSAW_DEMO": "true", "JIGSAW_REPLICA_MAX_LAG_SECONDS": raw})


async def test_without_a_replica_health_says_nothing_of_one(client: httpx.AsyncClient) -> None:
    body = (await client.get("/healthz")).json()
    assert body["database"] == "ok" and "replica" not in body


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    if db_backends.backend() != "postgres" or not pair_available():
        pytest.skip("the standby runs in the PostgreSQL pass")
    with private_pair() as found:
        db_backends.migrate_in_subprocess(found.primary.url)
        yield found


@pytest.fixture
async def replica_app(pair: Pair, tmp_path: Path) -> AsyncIterator[Starlette]:
    await db_backends.truncate_postgres(pair.primary.url)
    settings = Settings(
        database_url=pair.primary.url,
        data_dir=tmp_path,
        secret_key=Secret("test-secret-key-0123456789"),
        mfa_keys=(Secret(MFA_KEY),),
        database_replica_url=pair.standby.url,
        replica_max_lag=MAX_LAG,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
    await pair.resume_replay()


async def client_of(app: Starlette, person: Professional) -> httpx.AsyncClient:
    client = client_for(app)
    client.headers["authorization"] = f"Bearer {(await issue_token(person, 'replica'))[1]}"
    return client


async def posts_today(client: httpx.AsyncClient) -> int:
    """Today's posts over the manager's board, from the period comparison (tallies)."""
    response = await client.get("/api/v1/board", params={"from": date.today().isoformat()})
    assert response.status_code == 200, response.text
    return int(response.json()["comparison"]["b"]["total_posts"])


async def replica(client: httpx.AsyncClient) -> dict[str, Any]:
    body = (await client.get("/healthz")).json()
    assert body["status"] in {"ok", "degraded"}
    found: dict[str, Any] = body["replica"]
    return found


async def post(client: httpx.AsyncClient, child: Child, body: str) -> None:
    response = await client.post(
        f"/api/v1/children/{child.id}/posts", json={"kind": "concern", "body": body}
    )
    assert response.status_code == 201, response.text


async def until(check: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.1)


async def board_setup(app: Starlette, pair: Pair) -> tuple[Child, Professional, Professional]:
    make = Factory()
    child = await make.child()
    writer = await make.practitioner(grants=[child])
    manager = await make.manager_of(child)
    await pair.wait_caught_up()
    return child, writer, manager


@standby_runs
async def test_caught_up_standby_serves_the_board_and_comparisons(
    replica_app: Starlette, pair: Pair
) -> None:
    child, writer, manager = await board_setup(replica_app, pair)
    async with (
        await client_of(replica_app, writer) as w,
        await client_of(replica_app, manager) as m,
    ):
        await post(w, child, "Bruise on the left arm, unexplained")
        await pair.wait_caught_up()
        assert await posts_today(m) == 1
        found = await replica(m)
    assert found["state"] == "in use"
    assert found["reads"]["replica"] > 0
    assert found["max_served_staleness_seconds"] <= MAX_LAG


@standby_runs
async def test_writer_reads_own_write_while_others_read_at_most_max_lag_stale(
    replica_app: Starlette, pair: Pair
) -> None:
    child, writer, manager = await board_setup(replica_app, pair)
    make = Factory()
    make.n = 1000
    other = await make.manager_of(child)
    async with (
        await client_of(replica_app, manager) as writing,
        await client_of(replica_app, other) as reading,
    ):
        assert await posts_today(reading) == 0  # the standby is in use
        await pair.pause_replay()  # injected lag: the standby stops applying WAL
        async with await client_of(replica_app, writer) as w:
            await post(w, child, "Missed the health visit again")
        # The other manager wrote nothing: their reads may use the standby (stale) only
        # while the bound allows, then move to the primary.

        async def fresh() -> bool:
            return await posts_today(reading) == 1

        await until(fresh)
        assert (await replica(reading))["state"] == "behind"
        # A writer's own write: the next read is fresh at once, whatever the standby does.
        await pair.resume_replay()
        await pair.wait_caught_up()
        await until(lambda: _in_use(reading))
        await pair.pause_replay()
        await post(writing, child, "Mother says school is not safe")
        assert await posts_today(writing) == 2
        report = await replica(writing)
    assert report["reads"]["own write"] > 0 and report["reads"]["behind"] > 0
    assert report["max_served_staleness_seconds"] <= MAX_LAG


async def _in_use(client: httpx.AsyncClient) -> bool:
    return bool((await replica(client))["state"] == "in use")


@standby_runs
async def test_stopped_standby_sends_reads_to_the_primary_without_errors(
    replica_app: Starlette, pair: Pair
) -> None:
    child, writer, manager = await board_setup(replica_app, pair)
    async with (
        await client_of(replica_app, writer) as w,
        await client_of(replica_app, manager) as m,
    ):
        await post(w, child, "Nursery says the child was collected late by an unknown adult")

        async def found() -> int:
            search = await m.get("/api/v1/search", params={"q": "collected late"})
            assert search.status_code == 200, search.text
            return int(search.json()["count"])

        await until(found)  # the outbox has indexed it
        await pair.wait_caught_up()
        assert await posts_today(m) == 1
        pair.standby.stop("fast")
        try:
            await post(w, child, "Second concern while the standby is away")
            assert await posts_today(m) == 2
            assert await found() == 1
            assert (await replica(m))["state"] == "down"
        finally:
            pair.standby.start()
        await until(lambda: _in_use(m))
        assert await posts_today(m) == 2
