"""Helpers for audit tests: seal now, act as a database administrator, run the verifier."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from tortoise import connections

from feeds.audit.checkpoints import Signed
from feeds.audit.sealer import Sealer
from server.settings import Settings


def sealer_of(app: Starlette) -> Sealer:
    sealer: Sealer = app.state.audit_sealer
    return sealer


async def seal_now(app: Starlette) -> Signed:
    """Seal every committed audit row and sign a checkpoint, without waiting for the
    app's sealer loop (rows are sealed asynchronously since migration 0012)."""
    return await sealer_of(app).seal_now()


def is_postgres() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


@asynccontextmanager
async def triggers_off() -> AsyncIterator[None]:
    """What a database administrator can do: switch off the append-only triggers. On
    PostgreSQL (one database for the whole run) they are switched back on afterwards."""
    db = connections.get("default")
    if is_postgres():
        await db.execute_script("ALTER TABLE audit_record DISABLE TRIGGER audit_record_append_only")
        try:
            yield
        finally:
            await db.execute_script(
                "ALTER TABLE audit_record ENABLE TRIGGER audit_record_append_only"
            )
        return
    for name in ("no_insert_sealed", "no_update", "no_delete"):
        await db.execute_script(f"DROP TRIGGER audit_record_{name}")
    yield


async def run_verify(settings: Settings, *args: str) -> tuple[int, str]:
    """`jigsaw audit verify` in its own process, as an operator runs it: the database URL
    and the data directory, and no JIGSAW_SECRET_KEY."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIGSAW_")}
    env["JIGSAW_DATABASE_URL"] = settings.database_url
    env["JIGSAW_DATA_DIR"] = str(settings.data_dir)
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from server.cli import main; main()",
        "audit",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await cli.communicate())[0].decode()
    return int(cli.returncode or 0), output
