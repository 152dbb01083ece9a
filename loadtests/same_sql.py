"""Do Jigsaw and the bare baseline (loadtests/bare_app.py) send PostgreSQL the same
statements for a feed read and a post, and give the same answers? The capacity goal
compares their throughput, so the baseline must do the same database work, statement for
statement, and send back the same JSON (an answer a quarter the size costs less to build,
to send and, on the same box, for the load generator to read).

Seeds a small throwaway database, drives each request through both apps in this process
(no network) and records every statement asyncpg sends for it, in order, as sent, and
the answer, as JSON. Both apps read the same feed, so the two answers are equal whole; each
post is new, so its id and time are left out of the comparison.

    python -m loadtests.same_sql        # prints both per request; exit 1 if they differ
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import asyncpg
import httpx
from starlette.types import ASGIApp

from feeds.db import migrate_database
from feeds.kinds import WORRY_KINDS
from loadtests import bare_app
from loadtests.app_env import app_env
from loadtests.pgdb import create_database, drop_database
from loadtests.seed import caseload, load_token, seed
from loadtests.statements import recording
from server.app import create_app
from server.settings import load_settings

PROFESSIONALS, CHILDREN = 10, 60
MARK = "statements and answers per request, Jigsaw and bare:"  # the JSON follows
NEW_EACH_TIME = ("id", "created_at")  # a post's, in its answer: each app writes its own
PERSON = 3  # a practitioner (the seed makes professional 0 the manager)
REQUESTS = {
    "feed": ("GET", None),
    "post update": ("POST", {"kind": "update", "body": "Visited, all calm."}),
    "post hunch": ("POST", {"kind": "hunch", "body": "Something is off at home."}),
}


Found = dict[str, Any]  # {"statements": [...], "status": int, "answer": JSON}


async def _sent(client: httpx.AsyncClient, name: str, child: int) -> Found:
    method, body = REQUESTS[name]
    headers = {"authorization": f"Bearer {load_token(PERSON)}"}
    with recording() as sent:
        answer = await client.request(
            method, f"/api/v1/children/{child}/posts", json=body, headers=headers
        )
    assert answer.status_code < 300, f"{name}: {answer.status_code} {answer.text}"
    found = answer.json()
    if method == "POST":
        found = {k: v for k, v in found.items() if k not in NEW_EACH_TIME}
    return {"statements": list(sent), "status": answer.status_code, "answer": found}


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://load")


async def _share_a_worry(url: str, child: int) -> None:
    """Someone shares the child's newest worry, so the answers carry a share to compare."""
    conn = await asyncpg.connect(url)
    try:
        worry = await conn.fetchval(
            "SELECT id FROM post WHERE child_id = $1 AND kind = ANY($2::text[])"
            " ORDER BY id DESC LIMIT 1",
            child,
            sorted(WORRY_KINDS),
        )
        assert worry is not None, "the seed gave the child no worry to share"
        await conn.execute(
            "INSERT INTO worry_share (post_id, professional_id, child_id, note, created_at)"
            " VALUES ($1, 1, $2, 'Same here.', now())",
            worry,
            child,
        )
    finally:
        await conn.close()


async def compare(url: str) -> dict[str, dict[str, Found]]:
    """{request: {"jigsaw": found, "bare": found}} on a seeded database. Each request goes
    to Jigsaw, then to the bare app, so both read the same feed."""
    await migrate_database(url)
    await seed(url, CHILDREN, PROFESSIONALS, posts=1_800)  # over a page for the child read
    child = caseload(PERSON, CHILDREN, managers=1)[0]
    await _share_a_worry(url, child)
    jigsaw_app = create_app(load_settings(app_env(url)))
    os.environ["JIGSAW_DATABASE_URL"] = url  # what bare_app.lifespan connects to
    found: dict[str, dict[str, Found]] = {}
    async with (
        jigsaw_app.router.lifespan_context(jigsaw_app),
        bare_app.app.router.lifespan_context(bare_app.app),
        _client(jigsaw_app) as jigsaw,
        _client(bare_app.app) as bare,
    ):
        for name in REQUESTS:
            found[name] = {
                "jigsaw": await _sent(jigsaw, name, child),
                "bare": await _sent(bare, name, child),
            }
    return found


async def _main() -> int:
    url = await create_database("jigsaw_same_sql")
    try:
        found = await compare(url)
    finally:
        await drop_database(url)
    print(MARK, json.dumps(found, indent=2), sep="\n")
    return 0 if all(pair["jigsaw"] == pair["bare"] for pair in found.values()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
