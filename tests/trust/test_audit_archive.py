"""`jigsaw audit archive` (feeds/audit/archive.py): old audit months leave the database
behind a signed anchor, and `jigsaw audit verify` starts from it and still passes, while
an anchor edited, forged or deleted is reported as tampering.

PostgreSQL: each test gets its own fresh database (archiving detaches partitions, which
would disturb the run's shared one), with records written into months four and three
months ago before the app starts, so they are the first the sealer chains. SQLite: the
command refuses, saying archiving is a PostgreSQL feature.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.datastructures import Secret
from tortoise import connections

from feeds import audit, partitions
from feeds.audit import anchors, chain, checkpoints, keys
from feeds.audit.actions import AuditAction
from feeds.audit.verify import verify_log
from feeds.clock import utcnow
from feeds.models import AuditRecord
from feeds.partitions import Month
from server.app import create_app
from server.settings import Settings
from tests import db_backends
from tests.audit_tools import run_verify, seal_now, sealer_of, triggers_off
from tests.conftest import MFA_KEY

postgres_only = pytest.mark.skipif(
    db_backends.selected() != "postgres", reason="archiving is PostgreSQL's (partitions)"
)
CTX = audit.AuditContext(ip="127.0.0.1", request_id="archive")
NOW = Month.of(utcnow())
OLD = [NOW.following(-4), NOW.following(-3)]  # 3 and 2 records
BEFORE = NOW.following(-2)
INSERT = (
    "INSERT INTO audit_record (at, actor_email, action, child_id, outcome, ip, request_id,"
    " detail) VALUES ($1, 'old@example.test', 'feed.read', $2, 'ok', '', 'r', '{}')"
)


async def seed_old_months(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for month in OLD:
            await conn.execute(partitions.create_month_sql("audit_record", month))
        for n, month in enumerate([OLD[0]] * 3 + [OLD[1]] * 2):
            await conn.execute(INSERT, month.start + timedelta(days=2, hours=n), n)
    finally:
        await conn.close()


@pytest.fixture
async def archive_app(database_backend: str, tmp_path: Path) -> AsyncIterator[Starlette]:
    async with _archive_app(tmp_path, checkpoint_new=True) as application:
        yield application


@pytest.fixture
async def quiet_sealer_app(database_backend: str, tmp_path: Path) -> AsyncIterator[Starlette]:
    """As `archive_app`, but the newer records are sealed by another process (the sealer
    here signed nothing after them): its last checkpoint lies in the old months."""
    async with _archive_app(tmp_path, checkpoint_new=False) as application:
        yield application


@asynccontextmanager
async def _archive_app(tmp_path: Path, checkpoint_new: bool) -> AsyncIterator[Starlette]:
    url = db_backends.create_postgres_database()
    try:
        await seed_old_months(url)
        settings = Settings(
            database_url=url,
            data_dir=tmp_path,
            secret_key=Secret("test-secret-key-0123456789"),
            mfa_keys=(Secret(MFA_KEY),),
        )
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            if not checkpoint_new:
                # Stopped before the new records exist: its loop, woken by them, would
                # otherwise sign one of them (CI saw head_seq 6) before standing down.
                await sealer_of(application).loop.stop()
            await seal_now(application)  # the old months: seq 1 to 5
            for n in range(2):
                await audit.record(AuditAction.LOGIN, CTX, actor_email=f"now{n}@example.test")
            if checkpoint_new:
                await seal_now(application)
            else:  # this app's sealer has stood down; another seals (no checkpoint here)
                await chain.seal_pending()
            yield application
    finally:
        db_backends.drop_postgres_database(url)


def settings_of(app: Starlette) -> Settings:
    found: Settings = app.state.settings
    return found


async def archive(app: Starlette, before: Month = BEFORE) -> tuple[int, str]:
    month = f"{before.year}-{before.month:02d}"
    return await run_verify(settings_of(app), "archive", "--before", month)


async def sql(statement: str) -> list[tuple[object, ...]]:
    _, rows = await connections.get("default").execute_query(statement)
    return [tuple(row) for row in rows]


@postgres_only
async def test_archive_exports_anchors_and_detaches_and_verify_starts_from_the_anchor(
    archive_app: Starlette,
) -> None:
    settings = settings_of(archive_app)
    code, output = await archive(archive_app)
    assert code == 0, output
    assert "Archived 5 records (seq 1 to 5)" in output
    # One CSV per month, in seq order, with the SHA-256 the signed anchor holds.
    (anchor,) = (await anchors.read(None)).anchors
    assert anchor.anchor.months == [f"{m.year:04d}-{m.month:02d}" for m in OLD]
    for month, rows in zip(OLD, [3, 2], strict=True):
        path = settings.data_dir / "audit-archive" / f"{month.name('audit_record')}.csv"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert anchor.anchor.files[path.name] == digest and digest in output
        with path.open() as handle:
            assert len(list(csv.DictReader(handle))) == rows
    assert not set(OLD) & set(await partitions.monthly_partitions("audit_record"))
    detached = f"audit_archive_p{OLD[0].year:04d}_{OLD[0].month:02d}"
    assert await sql(f"SELECT count(*) FROM {detached}") == [(3,)]  # noqa: S608
    assert await AuditRecord.filter(seq__lte=5).count() == 0
    # The archive itself is audited; the chain goes on from the anchor.
    assert await AuditRecord.filter(action=AuditAction.AUDIT_ARCHIVE).count() == 1
    await seal_now(archive_app)
    code, output = await run_verify(settings, "verify")
    assert code == 0, output
    assert "Chain intact: 3 sealed records verified" in output
    assert "Archived: records 1 to 5" in output


@postgres_only
async def test_archiving_the_months_of_the_sealers_last_checkpoint_is_not_tampering(
    quiet_sealer_app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    """The running sealer last signed seq 5; those months are archived. Neither its next
    checkpoint nor `jigsaw audit verify` may call that tampering (the record is gone
    behind a signed anchor, not deleted), while a real deletion after it still is."""
    settings = settings_of(quiet_sealer_app)
    ((_, line),) = checkpoints.latest(settings.audit_checkpoint_path, 1)
    assert checkpoints.parse(line).checkpoint.head_seq == 5  # the sealer's last
    code, output = await archive(quiet_sealer_app)
    assert code == 0 and "Archived 5 records (seq 1 to 5)" in output, output
    with caplog.at_level(logging.ERROR, logger="jigsaw.audit"):
        await audit.record(AuditAction.LOGIN, CTX, actor_email="after@example.test")
        await seal_now(quiet_sealer_app)
    assert [r.getMessage() for r in caplog.records if "TAMPERED" in r.getMessage()] == []
    code, output = await run_verify(settings, "verify")
    assert code == 0 and "TAMPERED" not in output, output
    assert "Archived: records 1 to 5" in output
    async with triggers_off():
        await connections.get("default").execute_script("DELETE FROM audit_record WHERE seq = 6")
    code, output = await run_verify(settings, "verify")
    assert code == 1 and "records missing before it (seq 6)" in output, output


@postgres_only
async def test_an_edited_or_deleted_anchor_is_tampering(archive_app: Starlette) -> None:
    settings = settings_of(archive_app)
    assert (await archive(archive_app))[0] == 0
    await seal_now(archive_app)
    db = connections.get("default")
    (line,) = [str(row[0]) for row in await sql("SELECT line FROM audit_anchor")]
    await db.execute_script(
        "UPDATE audit_anchor SET line = replace(line, '\"rows\": 5', '\"rows\": 4')"
    )
    code, output = await run_verify(settings, "verify")
    assert code == 1 and "has a bad signature" in output, output
    # Signed by another key: as bad as edited.
    forged = anchors.sign(anchors.parse(line).anchor, Ed25519PrivateKey.generate()).line()
    await db.execute_query("UPDATE audit_anchor SET line = $1", [forged])
    code, output = await run_verify(settings, "verify")
    assert code == 1 and "has a bad signature" in output, output
    await db.execute_script("DELETE FROM audit_anchor")
    code, output = await run_verify(settings, "verify")
    assert code == 1 and "records missing before it (seq 1 to 5)" in output, output
    put_back = "INSERT INTO audit_anchor (seq, line, created_at) VALUES (5, $1, now())"
    await db.execute_query(put_back, [line])
    public = keys.verifying_key("", settings.data_dir)
    assert (await verify_log(public, settings.audit_checkpoint_path)).ok


@postgres_only
async def test_a_log_that_does_not_verify_is_not_archived(archive_app: Starlette) -> None:
    async with triggers_off():
        await connections.get("default").execute_script(
            "UPDATE audit_record SET actor_email = 'someone@else.test' WHERE seq = 2"
        )
    code, output = await archive(archive_app)
    assert code == 1 and "does not verify" in output, output
    assert set(OLD) <= set(await partitions.monthly_partitions("audit_record"))
    assert await sql("SELECT count(*) FROM audit_anchor") == [(0,)]


@postgres_only
async def test_archiving_twice_chains_the_anchors(archive_app: Starlette) -> None:
    assert (await archive(archive_app, OLD[1]))[0] == 0  # the older month alone
    code, output = await archive(archive_app)
    assert code == 0 and "Archived 2 records (seq 4 to 5)" in output, output
    code, output = await archive(archive_app)
    assert code == 1 and "No audit months before that" in output
    found = await anchors.read(keys.verifying_key("", settings_of(archive_app).data_dir))
    assert [a.anchor.seq for a in found.anchors] == [3, 5] and found.problems == []
    code, output = await run_verify(settings_of(archive_app), "verify")
    assert code == 0 and "Archived: records 1 to 5" in output, output


@pytest.mark.skipif(db_backends.selected() != "sqlite", reason="the SQLite refusal")
async def test_on_sqlite_archiving_is_refused_as_a_postgresql_feature(settings: Settings) -> None:
    code, output = await run_verify(settings, "archive", "--before", "2025-01")
    assert code == 1 and "PostgreSQL feature" in output, output
    code, output = await run_verify(settings, "archive", "--before", "2025-13")
    assert code == 2 and "YYYY-MM" in output, output
