"""A child's chronology (page, API, CSV, PDF) and timeline (the activity chart) read from
the hot standby like the board does: within the staleness bound, never for a writer before
it has replayed their write, from the primary when it lags or is down; the reads' audit
records are written on the primary.

What proves a read came from the standby: replay is paused, so a post exists only on the
primary; a reader who did not write it does not see it (the standby answered), while its
author does (read-your-writes). PostgreSQL pass only (a private primary and standby).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from feeds.audit.actions import AuditAction
from feeds.models import AuditRecord, Child, Professional
from loadtests.pg_private import Pair
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

pytestmark = standby_runs
PATIENT = 120.0  # a bound no test outlasts: a paused standby stays "in use"
STRICT = 1.0


@pytest.fixture(scope="module")
def pair(database_backend: str) -> Iterator[Pair]:
    with migrated_pair() as found:
        yield found


@pytest.fixture
async def patient_app(pair: Pair, tmp_path: Path) -> AsyncIterator[Starlette]:
    async with replica_app_on(pair, tmp_path, PATIENT) as application:
        yield application


@pytest.fixture
async def strict_app(pair: Pair, tmp_path: Path) -> AsyncIterator[Starlette]:
    async with replica_app_on(pair, tmp_path, STRICT) as application:
        yield application


async def two_people(pair: Pair) -> tuple[Child, Professional, Professional]:
    make = Factory()
    child = await make.child()
    writer = await make.practitioner(grants=[child])
    reader = await make.practitioner(grants=[child])
    await pair.wait_caught_up()
    return child, writer, reader


async def chronology(client: httpx.AsyncClient, child: Child) -> str:
    """The events of the child's chronology, from the API, one per line."""
    response = await client.get(f"/api/v1/children/{child.id}/chronology")
    assert response.status_code == 200, response.text
    return "\n".join(entry["event"] for entry in response.json()["entries"])


async def export(client: httpx.AsyncClient, child: Child, kind: str) -> bytes:
    response = await client.get(f"/api/v1/children/{child.id}/chronology.{kind}")
    assert response.status_code == 200, response.text
    return response.content


async def timeline(client: httpx.AsyncClient, child: Child) -> str:
    response = await client.get(f"/children/{child.id}/activity")
    assert response.status_code == 200, response.text
    return response.text


async def caught_up(app: Starlette, pair: Pair, client: httpx.AsyncClient) -> None:
    await pair.wait_caught_up()
    await until(lambda: in_use(client))


async def test_chronology_and_timeline_come_from_the_standby_and_the_writer_sees_their_post(
    patient_app: Starlette, pair: Pair
) -> None:
    child, writer, reader = await two_people(pair)
    async with (
        await client_of(patient_app, writer) as w,
        await client_of(patient_app, reader) as r,
    ):
        await post(w, child, "Bruise on the left arm, unexplained")
        await caught_up(patient_app, pair, r)
        assert "Bruise on the left arm" in await chronology(r, child)
        await pair.pause_replay()  # from here the second post is on the primary only
        await post(w, child, "Missed the health visit again")
        # The writer's own reads wait for their write: the primary answers.
        assert "Missed the health visit" in await chronology(w, child)
        assert b"Missed the health visit" in await export(w, child, "csv")
        assert "Last 28 days: 2 concern." in await timeline(w, child)
        # The reader wrote nothing: the standby, within the bound, answers (stale).
        seen = await chronology(r, child)
        assert "Bruise on the left arm" in seen and "Missed the health visit" not in seen
        csv = await export(r, child, "csv")
        assert b"Bruise on the left arm" in csv and b"Missed the health visit" not in csv
        assert (await export(r, child, "pdf")).startswith(b"%PDF")
        assert "Last 28 days: 1 concern." in await timeline(r, child)
        report = await replica(r)
    assert report["state"] == "in use" and report["reads"]["replica"] > 0
    assert report["reads"]["own write"] > 0

    # Every one of those reads was audited, on the primary (the standby is read-only and
    # paused), counting the entries each answer held: one fewer for the reader.
    def audited(person: Professional, action: AuditAction) -> Any:
        return AuditRecord.filter(actor_id=person.id, action=action).order_by("id")

    exports = await audited(reader, AuditAction.CHRONOLOGY_EXPORT)
    assert [e.detail["format"] for e in exports] == ["csv", "pdf"]
    reads = await audited(reader, AuditAction.CHRONOLOGY_READ)
    (written,) = await audited(writer, AuditAction.CHRONOLOGY_READ)
    assert len(reads) == 2
    stale = reads[-1].detail["entries"]
    assert exports[-1].detail["entries"] == stale == written.detail["entries"] - 1


async def test_a_stopped_standby_sends_chronology_reads_to_the_primary_without_errors(
    patient_app: Starlette, pair: Pair
) -> None:
    child, writer, reader = await two_people(pair)
    async with (
        await client_of(patient_app, writer) as w,
        await client_of(patient_app, reader) as r,
    ):
        await caught_up(patient_app, pair, r)
        await pair.pause_replay()
        await post(w, child, "Nursery says the child was collected late")
        assert "collected late" not in await chronology(r, child)  # the paused standby
        pair.standby.stop("fast")
        try:
            assert "collected late" in await chronology(r, child)
            assert b"collected late" in await export(r, child, "csv")
            assert "Last 28 days: 1 concern." in await timeline(r, child)
            assert (await replica(r))["state"] == "down"
        finally:
            pair.standby.start()
        await pair.resume_replay()
        await until(lambda: in_use(r))
        assert "collected late" in await chronology(r, child)


async def test_a_standby_lagging_past_the_bound_sends_chronology_reads_to_the_primary(
    strict_app: Starlette, pair: Pair
) -> None:
    child, writer, reader = await two_people(pair)
    async with (
        await client_of(strict_app, writer) as w,
        await client_of(strict_app, reader) as r,
    ):
        await caught_up(strict_app, pair, r)
        await pair.pause_replay()
        await post(w, child, "Mother says school is not safe")

        async def fresh() -> bool:
            return "school is not safe" in await chronology(r, child)

        await until(fresh)  # stale for at most the bound, then from the primary
        assert "Last 28 days: 1 concern." in await timeline(r, child)
        report = await replica(r)
    assert report["state"] == "behind" and report["reads"]["behind"] > 0
    assert report["max_served_staleness_seconds"] <= STRICT
