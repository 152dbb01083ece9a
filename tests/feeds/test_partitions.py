"""Monthly time partitions of `event` and `audit_record` (migration 0027, feeds/partitions.py).

PostgreSQL only, in the PostgreSQL pass: SQLite has no partitioning (its retention is the
row delete in tests/server/test_live_hub.py). The database is shared by the whole run, so
tests assert on the months they create, not on every partition there is.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from starlette.applications import Starlette
from tortoise import connections

from feeds import audit, events, partitions
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.audit.verify import verify_chain
from feeds.clock import utcnow
from feeds.models import AuditRecord, Event
from feeds.partitions import Month
from server.settings import Settings
from tests import db_backends
from tests.audit_tools import run_verify, seal_now, sealer_of

pytestmark = db_backends.postgres_only(
    "partitions are PostgreSQL's: they are tested in the PostgreSQL pass"
)
CTX = AuditContext(ip="127.0.0.1", request_id="partitions")


async def where(table: str, row_id: int) -> str:
    sql = f"SELECT tableoid::regclass::text FROM {table} WHERE id = $1"  # noqa: S608
    _, rows = await connections.get("default").execute_query(sql, [row_id])
    return str(rows[0][0])


async def insert_event(at: datetime) -> int:
    sql = (
        "INSERT INTO event (created_at, type, payload) VALUES ($1, 'post.created', '{}')"
        " RETURNING id"
    )
    found = await connections.get("default").execute_query_dict(sql, [at])
    return int(found[0]["id"])


async def insert_audit(at: datetime, n: int) -> int:
    sql = (
        "INSERT INTO audit_record (at, actor_email, action, child_id, outcome, ip, request_id,"
        " detail) VALUES ($1, 'old@example.test', 'feed.read', $2, 'ok', '', 'r', '{}')"
        " RETURNING id"
    )
    found = await connections.get("default").execute_query_dict(sql, [at, n])
    return int(found[0]["id"])


def months_ago(months: int) -> datetime:
    return Month.of(utcnow()).following(-months).start + timedelta(days=3)


async def test_rows_land_in_their_months_partition(app: Starlette) -> None:
    event = await events.emit(events.POST_CREATED, {"post_id": 1}, child_id=1)
    record = await audit.record(AuditAction.FEED_READ, CTX, actor_email="a@example.test")
    this_month = Month.of(utcnow())
    assert await where("event", event.id) == this_month.name("event")
    assert await where("audit_record", record.id) == this_month.name("audit_record")
    next_month = this_month.following().start + timedelta(hours=1)
    assert await where("event", await insert_event(next_month)) == this_month.following().name(
        "event"
    )
    far = this_month.following(30).start  # no partition that far ahead: the default takes it
    assert await where("event", await insert_event(far)) == "event_default"


async def test_the_orm_still_sees_id_as_the_key_and_gets_it_back_on_insert(
    app: Starlette,
) -> None:
    created = await Event.create(type="post.created", child_id=7, payload={"n": 1})
    assert isinstance(created.id, int) and created.id > 0
    again = await Event.get(id=created.id)
    assert again.payload == {"n": 1} and again.child_id == 7
    await Event.filter(id=created.id).update(type="post.edited")
    assert (await Event.get(id=created.id)).type == "post.edited"
    record = await audit.record(AuditAction.LOGIN, CTX, actor_email="b@example.test")
    assert (await AuditRecord.get(id=record.id)).actor_email == "b@example.test"


async def test_ensure_creates_the_coming_months_once(app: Starlette) -> None:
    later = Month.of(utcnow()).following(14)
    report = await partitions.ensure(now=later.start, months_ahead=2)
    wanted = [later, later.following(), later.following(2)]
    for table in partitions.TABLES:
        present = await partitions.monthly_partitions(table)
        assert all(month in present for month in wanted), table
        assert all(month.name(table) in report.created for month in wanted)
    again = await partitions.ensure(now=later.start, months_ahead=2)
    assert again.created == [] and again.skipped == []


async def test_ensure_leaves_a_month_whose_rows_went_to_the_default_and_says_so(
    app: Starlette,
) -> None:
    month = Month.of(utcnow()).following(40)
    row = await insert_event(month.start + timedelta(days=1))
    assert await where("event", row) == "event_default"
    report = await partitions.ensure(now=month.start, months_ahead=0)
    assert report.skipped == [f"{month.name('event')}: 1 rows of that month are in event_default"]
    assert month not in await partitions.monthly_partitions("event")
    assert month in await partitions.monthly_partitions("audit_record")  # the other table is fine


async def test_event_retention_drops_whole_month_partitions(app: Starlette) -> None:
    # This test prunes, not the hub meanwhile: its housekeeping runs on a loop of its own,
    # and a prune already under way would drop the old months this test creates.
    await app.state.hub.watch.stop()
    await partitions.ensure(now=months_ago(4), months_ahead=4)
    old = [await insert_event(months_ago(3)), await insert_event(months_ago(2))]
    assert await where("event", old[0]) == Month.of(months_ago(3)).name("event")
    recent = await events.emit(events.POST_CREATED, {"post_id": 2}, child_id=2)
    pruned = await partitions.prune_events(timedelta(days=30))
    assert Month.of(months_ago(3)).name("event") in pruned.partitions
    assert Month.of(months_ago(2)).name("event") in pruned.partitions
    present = await partitions.monthly_partitions("event")
    assert Month.of(months_ago(3)) not in present and Month.of(utcnow()) in present
    assert pruned.rows == 0  # nothing was deleted row by row
    assert [e.id for e in await Event.all()] == [recent.id]
    # The audit log's months are never dropped by retention.
    assert Month.of(months_ago(3)) in await partitions.monthly_partitions("audit_record")


async def test_audit_verify_passes_across_partitions(app: Starlette, settings: Settings) -> None:
    await sealer_of(app).loop.stop()
    await partitions.ensure(now=months_ago(2), months_ahead=2)
    ids = [await insert_audit(months_ago(2), 1), await insert_audit(months_ago(1), 2)]
    ids.append((await audit.record(AuditAction.FEED_READ, CTX, child_id=3)).id)
    homes = {await where("audit_record", row) for row in ids}
    assert len(homes) == 3  # three months, three partitions
    await seal_now(app)
    assert [r.id for r in await AuditRecord.filter(id__in=ids).order_by("seq")] == ids
    assert (await verify_chain()).ok
    code, output = await run_verify(settings, "verify")
    assert code == 0 and "Chain intact: 3 sealed records" in output, output


async def test_two_sealing_transactions_cannot_both_take_the_next_seq(
    app: Starlette, settings: Settings
) -> None:
    """seq has no unique index on the partitioned table: the trigger's advisory lock makes
    the second sealer wait for the first and then refuses its now-taken seq."""
    await sealer_of(app).loop.stop()
    first = (await audit.record(AuditAction.FEED_READ, CTX, child_id=1)).id
    second = (await audit.record(AuditAction.FEED_READ, CTX, child_id=2)).id
    a, b = [await asyncpg.connect(settings.database_url) for _ in range(2)]
    seal = "UPDATE audit_record SET seq = 1, hash = $1 WHERE id = $2"
    try:
        first_tx, second_tx = a.transaction(), b.transaction()
        await first_tx.start()
        await a.execute(seal, "a" * 64, first)
        await second_tx.start()
        racing = asyncio.ensure_future(b.execute(seal, "b" * 64, second))
        await asyncio.sleep(0.5)
        assert not racing.done()  # waits on the first sealer's lock
        await first_tx.commit()
        with pytest.raises(asyncpg.exceptions.RaiseError):
            await racing
        await second_tx.rollback()
    finally:
        await a.close()
        await b.close()
    assert [r.id for r in await AuditRecord.filter(seq__not_isnull=True)] == [first]


async def test_migration_converts_existing_tables_and_keeps_their_rows() -> None:
    url = db_backends.create_empty_postgres_database()
    try:
        await _migrate(url, "feeds.0022_sso")
        conn = await asyncpg.connect(url)
        old = datetime(2024, 2, 10, tzinfo=UTC)
        await conn.execute(
            "INSERT INTO event (created_at, type, payload)"
            " VALUES ($1, 'x', '{}'), (now(), 'y', '{}')",
            old,
        )
        await conn.execute(
            "INSERT INTO audit_record (at, actor_email, action, outcome, ip, request_id, detail)"
            " VALUES ($1, 'a', 'login', 'ok', '', '', '{}')",
            old,
        )
        await conn.close()
        await _migrate(url, None)
        conn = await asyncpg.connect(url)
        rows = await conn.fetch(
            "SELECT tableoid::regclass::text AS home, id FROM event ORDER BY id"
        )
        assert rows[0]["home"] == "event_p2024_02"
        assert await conn.fetchval("SELECT tableoid::regclass::text FROM audit_record") == (
            "audit_record_p2024_02"
        )
        new = await conn.fetchval(
            "INSERT INTO event (created_at, type, payload) VALUES (now(), 'z', '{}') RETURNING id"
        )
        assert new == 3  # the sequence went with the table
        with pytest.raises(asyncpg.exceptions.RaiseError):
            await conn.execute("DELETE FROM audit_record")
        await conn.close()
    finally:
        db_backends.drop_postgres_database(url)


async def _migrate(url: str, target: str | None) -> None:
    code = (
        "import asyncio; from tortoise import Tortoise\n"
        "from tortoise.migrations.api import migrate; from feeds.db import tortoise_config\n"
        "async def m():\n"
        f"    await migrate(config=tortoise_config({url!r}), target={target!r})\n"
        "    await Tortoise.close_connections()\n"
        "asyncio.run(m())"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, env=dict(os.environ))
    assert await process.wait() == 0
