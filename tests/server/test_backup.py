"""`jigsaw backup` and `jigsaw restore`, run as an operator runs them: real processes
against the database the in-process app is serving (SQLite, or PostgreSQL when the run
uses it), and restored copies checked through the CLI and the API."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from server.settings import Settings
from tests import db_backends
from tests.conftest import Factory, api_login, client_for
from tests.server.test_cli import PROBE, environment

# Rewritten on restore (velocity, search, the flips a reassessment audits): every other
# table must come back with exactly the manifest's rows.
DERIVED = {
    "audit_record",
    "event",
    "notification",
    "child_activity_day",
    "velocity_state",
    "velocity_sweep_shard",
    "search_outbox",
}
WORD = "kestrel"
CREATES = "SELECT count(*) FROM audit_record WHERE action = 'post.create'"


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


async def run(env: dict[str, str], *argv: str) -> Done:
    """A Python process, awaited without blocking the app serving in this event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, *argv, env=env, stdout=-1, stderr=-1
    )
    out, err = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode is not None
    return Done(process.returncode, out.decode(), err.decode())


async def jigsaw(env: dict[str, str], *args: str) -> Done:
    return await run(env, "-c", "from server.cli import main; main(prog_name='jigsaw')", *args)


def ok(done: Done) -> str:
    assert done.code == 0, done.err
    assert "Traceback" not in done.err
    return done.out


def refused(done: Done, message: str) -> None:
    assert done.code == 1, done.out
    assert "Traceback" not in done.err + done.out
    assert f"Error: {message}" in done.err, done.err


async def api(env: dict[str, str], *calls: tuple[str, str, Any, str | None]) -> list[Any]:
    done = await run(env, "-c", PROBE, json.dumps(calls))
    assert done.code == 0, done.err
    answer: list[Any] = json.loads(done.out)
    return answer


async def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """One statement's rows, read straight from the database (no app, no Tortoise)."""
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            return [tuple(row) for row in db.execute(sql)]
        finally:
            db.close()
    connection = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await connection.fetch(sql)]
    finally:
        await connection.close()


async def row_counts(url: str, tables: list[str]) -> dict[str, int]:
    # Table names from the manifest this test just read.
    return {t: (await rows(url, f'SELECT count(*) FROM "{t}"'))[0][0] for t in tables}  # noqa: S608


@pytest.fixture
async def fresh_url(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """An empty target for a restore: a new SQLite path, or a new database with no tables."""
    if settings.is_sqlite:
        yield f"sqlite://{tmp_path / 'restored' / 'jigsaw.sqlite3'}"
        return
    url = await asyncio.to_thread(db_backends.create_empty_postgres_database)
    yield url
    await asyncio.to_thread(db_backends.drop_postgres_database, url)


async def post_until(
    client: httpx.AsyncClient, child_id: int, posted: list[int], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        body = {"kind": "update", "body": f"Saw a {WORD} by the window on visit {len(posted)}"}
        response = await client.post(f"/api/v1/children/{child_id}/posts", json=body)
        assert response.status_code == 201, response.text
        posted.append(response.json()["id"])


async def backup_while_posting(
    app: Starlette, env: dict[str, str], author_email: str, child_id: int, dest: Path
) -> tuple[Done, int, int]:
    """Two clients post without pause while `jigsaw backup` runs; returns the backup's
    result, the posts made before it started and the posts made in all."""
    posted: list[int] = []
    stop = asyncio.Event()
    async with client_for(app) as first, client_for(app) as second:
        for client in (first, second):
            await api_login(client, author_email)
        posters = [
            asyncio.create_task(post_until(c, child_id, posted, stop)) for c in (first, second)
        ]
        try:
            while len(posted) < 10:
                await asyncio.sleep(0.01)
            before = len(posted)
            done = await jigsaw(env, "backup", str(dest))
            while len(posted) < before + 4:  # the posters kept going through the backup
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await asyncio.gather(*posters)
    return done, before, len(posted)


async def test_a_backup_taken_while_posting_restores_a_working_consistent_copy(
    app: Starlette, settings: Settings, make: Factory, fresh_url: str, tmp_path: Path
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    manager = await make.manager_of(child)
    live = environment(tmp_path / "data", JIGSAW_DATABASE_URL=settings.database_url)
    dest = tmp_path / "backups" / "nightly"

    done, before, total = await backup_while_posting(app, live, author.email, child.id, dest)

    assert "Backup written to" in ok(done)
    manifest = json.loads((dest / "manifest.json").read_text())
    assert before <= manifest["counts"]["post"] <= total
    restored = environment(tmp_path / "data", JIGSAW_DATABASE_URL=fresh_url)
    out = ok(await jigsaw(restored, "restore", str(dest)))
    assert "row counts match the manifest" in out
    # The restored copy has the chain but not the original's checkpoint file: verify checks
    # the chain and says the signatures were not checked (exit 2, "intact as far as it
    # could check"); docs/operations.md says to keep the checkpoint file with the backup.
    verified = await jigsaw(restored, "audit", "verify")
    assert verified.code in (0, 2) and "Traceback" not in verified.err, verified.err
    assert "Chain intact" in verified.out

    counts = await row_counts(fresh_url, list(manifest["counts"]))
    kept = {t: n for t, n in manifest["counts"].items() if t not in DERIVED}
    assert {t: counts[t] for t in kept} == kept
    assert counts["audit_record"] >= manifest["counts"]["audit_record"]  # append-only
    # One snapshot: every post in the copy came with its audit record and outbox row.
    [(creates,)] = await rows(fresh_url, CREATES)
    assert creates == manifest["counts"]["post"] == manifest["counts"]["search_outbox"]

    author_token, manager_token = [
        ok(await jigsaw(restored, "create-token", "--email", email, "--name", "probe")).strip()
        for email in (author.email, manager.email)
    ]
    search, board = await api(
        restored,
        ("GET", f"/api/v1/search?q={WORD}&limit=50", None, author_token),
        ("GET", "/api/v1/board", None, manager_token),
    )
    assert search[0] == 200, search
    assert search[1]["results"] and {r["child"]["id"] for r in search[1]["results"]} == {child.id}
    assert board[0] == 200, board
    assert [row["child"]["id"] for row in board[1]["rows"]] == [child.id]

    # The restored database has data now: a second restore into it is refused.
    again = await jigsaw(restored, "restore", str(dest))
    refused(again, "")
    assert "restore only" in again.err


async def test_a_failed_pg_dump_is_reported_and_leaves_no_partial_file(
    settings: Settings, tmp_path: Path
) -> None:
    if settings.is_sqlite:
        pytest.skip("pg_dump backs up PostgreSQL only")
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "pg_dump").write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do case "$a" in --file=*) echo half > "${a#--file=}";; esac; done\n'
        'echo "pg_dump: error: connection to server lost" >&2\n'
        "exit 1\n"
    )
    (tools / "pg_dump").chmod(0o755)
    env = environment(tmp_path / "data", JIGSAW_DATABASE_URL=settings.database_url)
    dest = tmp_path / "backup"
    done = await jigsaw(env, "backup", str(dest), "--pg-bin", str(tools))
    refused(done, "pg_dump failed (exit 1): pg_dump: error: connection to server lost")
    assert list(dest.iterdir()) == []
