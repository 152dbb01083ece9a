"""The audit trail without a global lock: unsealed appends, one elected sealer, signed
checkpoints, and a verifier that catches what a database administrator could do
(TRUST "Audit"; docs/trust.md "Tamper evidence")."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from tortoise.exceptions import BaseORMException
from tortoise.transactions import in_transaction

from feeds import audit, leases, raw_sql
from feeds.audit import chain, checkpoints, keys
from feeds.audit.actions import AuditAction
from feeds.audit.chain import GENESIS, fields_of, record_hash
from feeds.audit.records import AuditContext
from feeds.audit.sealer import LEASE, LEASE_NAME
from feeds.audit.verify import Report, verify_chain, verify_log
from feeds.models import AuditRecord, Professional, Role
from server.auth import issue_token
from server.settings import Settings
from tests import db_backends
from tests.audit_tools import is_postgres, run_verify, seal_now, sealer_of, triggers_off
from tests.conftest import Factory

CTX = AuditContext(ip="127.0.0.1", request_id="r")
REFUSED = (BaseORMException, asyncpg.exceptions.PostgresError)
BOUND = 10.0  # seconds: a generous bound for "within about a second"


async def write(count: int, person: Professional | None = None) -> list[int]:
    """`count` audit records, appended concurrently; their ids."""
    made = await asyncio.gather(
        *(audit.record(AuditAction.FEED_READ, CTX, actor=person, child_id=n) for n in range(count))
    )
    return [record.id for record in made]


async def sealed_by_seq() -> list[AuditRecord]:
    return await AuditRecord.filter(seq__not_isnull=True).order_by("seq")


async def verified(app: Starlette, settings: Settings) -> Report:
    public = sealer_of(app).key.public_key()
    return await verify_log(public, settings.audit_checkpoint_path)


async def test_a_record_is_written_unsealed_and_sealed_within_about_a_second(
    app: Starlette,
) -> None:
    entry = await audit.record(AuditAction.LOGIN, CTX, actor_email="a@example.test")
    assert entry.hash is None and entry.seq is None  # no lock, no chain work on the request

    async def sealed() -> AuditRecord:
        while (row := await AuditRecord.get(id=entry.id)).seq is None:
            await asyncio.sleep(0.05)
        return row

    row = await asyncio.wait_for(sealed(), BOUND)  # the app's own sealer loop did it
    assert row.hash == record_hash((await chain_hash_before(row.seq)), fields_of(row))


async def chain_hash_before(seq: int | None) -> str:
    assert seq is not None
    return await chain.hash_at(seq - 1) or GENESIS


async def test_concurrent_writers_are_all_sealed_in_order_and_verify_intact(
    app: Starlette, settings: Settings, make: Factory
) -> None:
    person = await make.professional()

    async def writer(n: int) -> None:
        async with in_transaction():  # each request's own transaction, as today
            await audit.record(AuditAction.POST_CREATE, CTX, actor=person, child_id=n)
            await asyncio.sleep(0)
            await audit.record(AuditAction.FEED_READ, CTX, actor=person, child_id=n)

    sealing = asyncio.create_task(seal_repeatedly(app))
    await asyncio.gather(*(writer(n) for n in range(20)))
    sealing.cancel()
    await seal_now(app)
    total = await AuditRecord.all().count()
    rows = await sealed_by_seq()
    assert [row.seq for row in rows] == list(range(1, total + 1))  # none skipped
    report = await verified(app, settings)
    assert report.ok and report.problems == [] and report.unsealed.count == 0
    assert report.latest is not None and report.latest.count == total


async def seal_repeatedly(app: Starlette) -> None:
    while True:
        await seal_now(app)
        await asyncio.sleep(0)


async def test_a_lower_id_that_commits_after_a_higher_one_was_sealed_is_sealed_next(
    app: Starlette, settings: Settings
) -> None:
    """PostgreSQL allocates ids before commit; SQLite has one writer, so ids commit in
    order there and the race cannot happen."""
    if not is_postgres():
        pytest.skip("only PostgreSQL commits ids out of order")
    await sealer_of(app).loop.stop()
    inside, commit = asyncio.Event(), asyncio.Event()

    async def slow_request() -> int:
        async with in_transaction():
            entry = await audit.record(AuditAction.FEED_READ, CTX, actor_email="slow@x")
            inside.set()
            await commit.wait()
        return int(entry.id)

    slow = asyncio.create_task(slow_request())
    await inside.wait()
    fast = (await audit.record(AuditAction.FEED_READ, CTX, actor_email="fast@x")).id
    await seal_now(app)
    commit.set()
    slow_id = await slow
    await seal_now(app)
    assert slow_id < fast
    by_id = {row.id: row.seq for row in await sealed_by_seq()}
    assert by_id[slow_id] == by_id[fast] + 1  # sealed after, never skipped
    assert (await verified(app, settings)).ok


async def test_altering_one_sealed_row_names_exactly_that_row(
    app: Starlette, settings: Settings
) -> None:
    await write(20)
    await seal_now(app)
    target = (await sealed_by_seq())[7]
    async with triggers_off():
        await raw_sql.execute("UPDATE audit_record SET outcome = 'denied' WHERE id = $1", target.id)
    verdict = await verify_chain()
    assert verdict.first_bad_id == target.id and verdict.checked == 7
    code, output = await run_verify(settings, "verify")
    assert code == 1 and f"broken at record {target.id}" in output, output


async def test_deleting_a_row_in_the_middle_names_the_row_after_the_gap(
    app: Starlette, settings: Settings
) -> None:
    await write(10)
    await seal_now(app)
    rows = await sealed_by_seq()
    async with triggers_off():
        await raw_sql.execute("DELETE FROM audit_record WHERE id = $1", rows[4].id)
    verdict = await verify_chain()
    assert verdict.first_bad_id == rows[5].id and "missing before it (seq 5)" in verdict.reason


async def test_deleting_the_newest_rows_is_detected_by_the_checkpoint(
    app: Starlette, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await write(10)
    await seal_now(app)
    async with triggers_off():
        await raw_sql.execute("DELETE FROM audit_record WHERE seq > $1", 7)
    report = await verified(app, settings)
    assert report.chain.ok  # what is left still chains: only the checkpoint shows it
    assert not report.ok and "newest records were deleted" in report.problems[0]
    code, output = await run_verify(settings, "verify")
    assert code == 1, output
    assert "covers 10 records up to seq 10; the chain now ends at seq 7" in output
    with caplog.at_level(logging.ERROR, logger="jigsaw.audit"):
        await seal_now(app)  # the running sealer notices before its next checkpoint
    assert any("AUDIT LOG TAMPERED" in r.getMessage() for r in caplog.records)
    assert not (await verified(app, settings)).ok  # a later checkpoint hides nothing


async def test_resealing_the_whole_chain_with_the_public_algorithm_is_detected(
    app: Starlette, settings: Settings
) -> None:
    await write(10)
    await seal_now(app)
    victim = (await sealed_by_seq())[2]
    async with triggers_off():
        await raw_sql.execute(
            "UPDATE audit_record SET actor_email = 'someone-else@x' WHERE id = $1", victim.id
        )
        previous = GENESIS
        for row in await sealed_by_seq():
            previous = record_hash(previous, fields_of(row))
            reseal = "UPDATE audit_record SET hash = $1 WHERE id = $2"
            await raw_sql.execute(reseal, previous, row.id)
    report = await verified(app, settings)
    assert report.chain.ok  # a consistent chain again, but not the one that was signed:
    assert not report.ok and "rewritten (re-sealed)" in report.problems[0]
    code, output = await run_verify(settings, "verify")
    assert code == 1 and "rewritten" in output, output


async def test_an_unsealed_tail_is_reported_and_is_not_a_failure(
    app: Starlette, settings: Settings
) -> None:
    await write(3)
    await seal_now(app)
    await sealer_of(app).loop.stop()  # the sealer is down: rows pile up unsealed
    await write(2)
    report = await verified(app, settings)
    assert report.ok and report.unsealed.count == 2
    code, output = await run_verify(settings, "verify")
    assert code == 0, output
    assert "Unsealed: 2 records not yet chained" in output
    assert "Cannot detect: changes to unsealed records" in output


async def test_verify_without_checkpoints_says_what_it_could_not_check(
    app: Starlette, settings: Settings
) -> None:
    await write(3)
    await seal_now(app)
    await sealer_of(app).stop()  # else the running sealer may sign a fresh checkpoint
    settings.audit_checkpoint_path.unlink()
    code, output = await run_verify(settings, "verify")
    assert code == 2, output
    assert "Chain intact: 3 sealed records" in output and "NOT CHECKED: checkpoints" in output


async def test_checkpoints_are_signed_with_the_published_key(
    app: Starlette, settings: Settings, client: httpx.AsyncClient, make: Factory
) -> None:
    await write(4)
    signed = await seal_now(app)
    anyone = await make.professional(role=Role.PRACTITIONER)
    token = (await issue_token(anyone, "t"))[1]
    assert (await client.get("/api/v1/audit/public-key")).status_code == 401
    published = await client.get(
        "/api/v1/audit/public-key", headers={"authorization": f"Bearer {token}"}
    )
    assert published.status_code == 200, published.text
    public = keys.load_public_key(published.json()["public_key"])
    last = checkpoints.latest(settings.audit_checkpoint_path, 1)[0][1]
    on_file = checkpoints.parse(last)
    assert on_file == signed and on_file.verifies(public)
    assert on_file.checkpoint.count == on_file.checkpoint.head_seq == 4
    code, output = await run_verify(settings, "public-key")
    assert code == 0 and output.strip() == published.json()["public_key"]


async def test_an_edited_checkpoint_fails_its_signature(app: Starlette, settings: Settings) -> None:
    await write(4)
    await seal_now(app)
    path = settings.audit_checkpoint_path
    line = json.loads(checkpoints.latest(path, 1)[0][1])
    line["count"] = line["head_seq"] = 3  # as if the log had been shorter
    with path.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    report = await verified(app, settings)
    assert any("bad signature" in problem for problem in report.problems)


async def test_two_sealers_racing_cannot_fork_the_chain(app: Starlette, settings: Settings) -> None:
    await sealer_of(app).loop.stop()
    await write(60)
    outcomes = await asyncio.gather(
        chain.seal_pending(batch=7), chain.seal_pending(batch=7), return_exceptions=True
    )
    assert all(isinstance(o, int | Exception) for o in outcomes)  # the loser fails cleanly
    await chain.seal_pending()
    assert [row.seq for row in await sealed_by_seq()] == list(range(1, 61))
    assert (await verify_chain()).ok


async def test_one_sealer_holds_the_lease_until_it_lapses_or_is_released(app: Starlette) -> None:
    await sealer_of(app).stop()  # the app's own sealer lets go of the lease

    async def claim(holder: str, length: timedelta = LEASE) -> bool:
        return await leases.claim(LEASE_NAME, holder, length)

    assert await claim("worker-a")
    assert not await claim("worker-b")
    assert await claim("worker-a")  # renewal
    await leases.release(LEASE_NAME, "worker-a")
    assert await claim("worker-b")
    assert await claim("worker-b", timedelta(seconds=-1))  # lapsed at once
    assert await claim("worker-a")


# Every column but seq and hash, with an SQL expression that changes it.
CHANGES = {
    "id": ("id + 100000", "id + 100000"),
    "at": ("'2001-01-01 00:00:00+00:00'", "at + interval '1 second'"),
    "actor_id": ("coalesce(actor_id, 0) + 1", "coalesce(actor_id, 0) + 1"),
    "actor_email": ("actor_email || 'x'", "actor_email || 'x'"),
    "action": ("action || 'x'", "action || 'x'"),
    "child_id": ("coalesce(child_id, 0) + 1", "coalesce(child_id, 0) + 1"),
    "outcome": ("'denied'", "'denied'"),
    "ip": ("ip || 'x'", "ip || 'x'"),
    "request_id": ("request_id || 'x'", "request_id || 'x'"),
    "detail": ("'{\"x\": 1}'", "'{\"x\": 1}'::jsonb"),
}


async def test_the_database_allows_only_the_one_time_seal(app: Starlette) -> None:
    """The triggers of migration 0012, on both databases: whatever the application's
    database role does, only an unsealed row may be sealed, once, with the next seq."""
    await sealer_of(app).loop.stop()
    columns = set(raw_sql.column_names(AuditRecord)) - {"seq", "hash"}
    assert columns == set(CHANGES), "a new audit column must be protected by the trigger"
    row = (await write(1))[0]
    nxt, digest = (await chain.head()).seq + 1, "a" * 64
    seal = "UPDATE audit_record SET seq = $1, hash = $2{extra} WHERE id = $3"
    for column, (sqlite, postgres) in CHANGES.items():
        change = f", {column} = {postgres if is_postgres() else sqlite}"
        with pytest.raises(REFUSED):
            await raw_sql.execute(seal.format(extra=change), nxt, digest, row)
    with pytest.raises(REFUSED):  # not the next seq
        await raw_sql.execute(seal.format(extra=""), nxt + 1, digest, row)
    with pytest.raises(REFUSED):  # not a hash
        await raw_sql.execute(seal.format(extra=""), nxt, "short", row)
    assert await raw_sql.execute(seal.format(extra=""), nxt, digest, row) == 1  # the seal
    with pytest.raises(REFUSED):  # only once
        await raw_sql.execute("UPDATE audit_record SET hash = $1 WHERE id = $2", "b" * 64, row)
    with pytest.raises(REFUSED):
        await raw_sql.execute("DELETE FROM audit_record WHERE id = $1", row)
    with pytest.raises(REFUSED):  # rows arrive unsealed
        await raw_sql.execute(
            "INSERT INTO audit_record (at, actor_email, action, outcome, ip, request_id, detail,"
            " seq, hash) SELECT at, actor_email, action, outcome, ip, request_id, detail,"
            " seq + 1, hash FROM audit_record WHERE id = $1",
            row,
        )


async def test_audit_readers_show_unsealed_rows(
    app: Starlette, client: httpx.AsyncClient, make: Factory
) -> None:
    await sealer_of(app).loop.stop()
    lead = await make.professional()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    auth = {"authorization": f"Bearer {(await issue_token(lead, 't'))[1]}"}
    await client.get(f"/api/v1/children/{child.id}", headers=auth)
    records = (await client.get(f"/api/v1/children/{child.id}/audit", headers=auth)).json()
    assert "child.read" in {r["action"] for r in records["records"]}
    page = await client.get(f"/children/{child.id}/audit", headers=auth)
    assert page.status_code == 200 and "child read" in page.text
    admin = await make.professional(role=Role.ADMIN)
    admin_auth = {"authorization": f"Bearer {(await issue_token(admin, 't'))[1]}"}
    exported = await client.get(f"/api/v1/audit.csv?child={child.id}", headers=admin_auth)
    assert exported.status_code == 200
    assert exported.text.splitlines()[0].endswith(",hash,seq")
    assert await AuditRecord.filter(seq__isnull=True).count() > 0  # they were unsealed


async def test_sealing_stops_between_batches_when_told(app: Starlette) -> None:
    """A sealer whose lease is due for renewal stops after the batch in hand, so a long
    backlog is never sealed past the lease's end (where the next sealer elected would race it)."""
    await sealer_of(app).loop.stop()
    await write(20)
    assert await chain.seal_pending(batch=7, keep_going=lambda: False) == 7
    assert len(await sealed_by_seq()) == 7
    assert await chain.seal_pending(batch=7) == 13
    assert [row.seq for row in await sealed_by_seq()] == list(range(1, 21))
    assert (await verify_chain()).ok


async def test_a_batch_whose_first_row_another_sealer_took_is_a_seal_race(app: Starlette) -> None:
    """The batch is stored in one call on PostgreSQL (migration 0032) and row by row on
    SQLite: either way a row sealed meanwhile stops it with SealRace, and the rows are
    then sealed once, by the chain's next seqs."""
    await sealer_of(app).loop.stop()
    ids = sorted(await write(3))
    at = await chain.head()
    rows = {r.id: r for r in await AuditRecord.filter(id__in=ids)}
    stale, previous = [], at.hash
    for n, record_id in enumerate(ids, start=1):
        previous = record_hash(previous, fields_of(rows[record_id]))
        stored = await raw_sql.fetch("SELECT at FROM audit_record WHERE id = $1", record_id)
        stale.append(chain._Seal(at.seq + n, previous, record_id, stored[0][0]))
    assert await chain.seal_pending(batch=1, keep_going=lambda: False) == 1  # the other sealer
    with pytest.raises(chain.SealRace, match=f"audit record {ids[0]} "):
        async with in_transaction():
            await chain._store(stale)
    assert await chain.seal_pending() == 2
    assert [row.id for row in await sealed_by_seq()][-3:] == ids
    assert (await verify_chain()).ok


def _rows_read(plan: dict[str, Any]) -> int:
    """The most rows any one node of an EXPLAIN ANALYZE plan produced."""
    below = [_rows_read(child) for child in plan.get("Plans", [])]
    return max([int(plan["Actual Rows"]) * int(plan.get("Actual Loops", 1)), *below])


@pytest.mark.skipif(db_backends.selected() != "postgres", reason="the planner is PostgreSQL's")
async def test_the_chain_head_is_found_without_reading_the_sealed_rows(app: Starlette) -> None:
    """The sealer reads the chain's head before every batch. Statistics taken while the
    month's rows were all unsealed (the sealer behind, an import) once made PostgreSQL
    sort every sealed row of the partition for it, 50 ms at 126,000 rows and growing with
    the month, until the next analyse: the head must be found by the seq index whatever
    the statistics say."""
    await sealer_of(app).loop.stop()
    await write(300)
    await raw_sql.execute("ANALYZE audit_record")  # every row unsealed: seq "always NULL"
    assert await chain.seal_pending() == 300
    [(plan,)] = await raw_sql.fetch("EXPLAIN (ANALYZE, FORMAT JSON) " + chain.HEAD_SQL)
    assert _rows_read(json.loads(plan)[0]["Plan"]) <= 1
    newest = (await sealed_by_seq())[-1]
    assert newest.hash and await chain.head() == chain.Head(300, newest.hash)
