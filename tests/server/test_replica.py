"""Heavy reads from a PostgreSQL hot standby (feeds/replica.py): used when it is within the
staleness bound, never for a writer's next read before it has replayed their write, and
never at the cost of an error (a stopped standby sends reads to the primary).

The standby tests run a private primary and standby pair (loadtests/pg_private.py) in
the PostgreSQL pass; the settings tests run on both backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from feeds.models import Child, Professional
from loadtests.pg_private import Pair
from server.settings import SettingsError, load_settings
from tests.conftest import Factory
from tests.replica_tools import (
    client_of,
    in_use,
    migrated_pair,
    post,
    replica,
    replica_app_on,
    standby_runs,
    until,
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
def pair(database_backend: str) -> Iterator[Pair]:
    with migrated_pair() as found:
        yield found


@pytest.fixture
async def replica_app(pair: Pair, tmp_path: Path) -> AsyncIterator[Starlette]:
    async with replica_app_on(pair, tmp_path, MAX_LAG) as application:
        yield application


async def posts_today(client: httpx.AsyncClient) -> int:
    """Today's posts over the manager's board, from the period comparison (tallies)."""
    response = await client.get("/api/v1/board", params={"from": date.today().isoformat()})
    assert response.status_code == 200, response.text
    return int(response.json()["comparison"]["b"]["total_posts"])


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
        await until(lambda: in_use(reading))
        await pair.pause_replay()
        await post(writing, child, "Mother says school is not safe")
        assert await posts_today(writing) == 2
        report = await replica(writing)
    assert report["reads"]["own write"] > 0 and report["reads"]["behind"] > 0
    assert report["max_served_staleness_seconds"] <= MAX_LAG


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

        async def found() -> bool:
            search = await m.get("/api/v1/search", params={"q": "collected late"})
            assert search.status_code == 200, search.text
            return int(search.json()["count"]) > 0

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
        await until(lambda: in_use(m))
        assert await posts_today(m) == 2
