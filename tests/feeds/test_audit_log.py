"""The audit log is append-only in the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncpg
import pytest
from starlette.applications import Starlette
from tortoise.exceptions import BaseORMException

from feeds import audit
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.models import AuditRecord
from tests.audit_tools import seal_now

# SQLite's refusal arrives as a Tortoise error, PostgreSQL's RAISE as asyncpg's own.
REFUSED = (BaseORMException, asyncpg.exceptions.PostgresError)


async def test_audit_rows_cannot_be_updated_or_deleted(app: Starlette) -> None:
    record = await audit.record(AuditAction.FEED_READ, AuditContext(ip="10.0.0.1"), child_id=7)
    for sealed in (False, True):  # rows are written unsealed; the sealer chains them later
        if sealed:
            await seal_now(app)
        with pytest.raises(REFUSED):
            await AuditRecord.filter(id=record.id).update(outcome="denied")
        with pytest.raises(REFUSED):
            await AuditRecord.filter(id=record.id).delete()
    kept = await AuditRecord.get(id=record.id)
    assert kept.outcome == "ok" and kept.seq is not None


async def test_control_characters_cannot_forge_audit_lines(app: Starlette) -> None:
    record = await audit.record(
        AuditAction.LOGIN, AuditContext(ip="1.2.3.4\nFAKE"), actor_email="a@b.c\r\nlogin ok admin"
    )
    assert "\n" not in record.actor_email and "\n" not in record.ip
