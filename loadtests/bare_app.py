"""The bare baseline: Starlette + raw asyncpg running the SQL Jigsaw runs for a feed read
and a post, without the ORM, auth, CSRF, templates or audit helpers around it.

    JIGSAW_DATABASE_URL=postgres://... uvicorn loadtests.bare_app:app --workers 2
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds.velocity.detector import CONCERN_KINDS
from feeds.velocity.tallies import ADD_POST_SQL

ACCESS = (
    'SELECT 1 FROM "grant" WHERE child_id = $1 AND revoked_at IS NULL '
    "AND (expires_at IS NULL OR expires_at > now()) AND (professional_id = $2 OR team_id IN "
    "(SELECT team_id FROM team_member WHERE professional_id = $2)) LIMIT 1"
)
PAGE = (
    "SELECT p.id, p.kind, p.body, p.created_at, a.name FROM post p JOIN professional a "
    "ON a.id = p.author_id WHERE p.child_id = $1 AND p.removed_at IS NULL "
    "ORDER BY p.id DESC LIMIT 21"
)
AUDIT = (
    "INSERT INTO audit_record (at, actor_id, actor_email, action, child_id, outcome, ip, "
    "request_id, detail) VALUES (now(), $1, '', $2, $3, 'ok', '', '', '{}')"
)


async def audit(conn: asyncpg.Connection, user: int, action: str, child: int) -> None:
    """Jigsaw's audit append: one unsealed INSERT, no lock (its sealer chains it later)."""
    await conn.execute(AUDIT, user, action, child)


async def tally(conn: asyncpg.Connection, child: int, user: int, kind: str) -> None:
    """The per-day tally posting keeps: Jigsaw's own statement (feeds/velocity/tallies.py)."""
    at = datetime.now(UTC)
    worried = kind in CONCERN_KINDS
    await conn.execute(ADD_POST_SQL, child, at.date(), kind, str(user), "Load agency", worried, at)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["JIGSAW_DATABASE_URL"], max_size=10)
    yield
    await app.state.pool.close()


def _user(request: Request) -> int:
    return int(request.headers.get("x-user", "1"))


async def feed(request: Request) -> Response:
    child, user = int(request.path_params["child"]), _user(request)
    async with request.app.state.pool.acquire() as conn:
        if await conn.fetchval(ACCESS, child, user) is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        rows = await conn.fetch(PAGE, child)
        async with conn.transaction():
            await audit(conn, user, "feed.read", child)
    return JSONResponse({"posts": [{"id": r["id"], "body": r["body"]} for r in rows]})


async def post(request: Request) -> Response:
    child, user = int(request.path_params["child"]), _user(request)
    data = json.loads(await request.body())
    async with request.app.state.pool.acquire() as conn:
        if await conn.fetchval(ACCESS, child, user) is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        async with conn.transaction():
            post_id = await conn.fetchval(
                "INSERT INTO post (child_id, author_id, kind, body, created_at, idempotency_key)"
                " VALUES ($1, $2, $3, $4, now(), $5) RETURNING id",
                child,
                user,
                data["kind"],
                data["body"],
                request.headers.get("idempotency-key"),
            )
            await tally(conn, child, user, data["kind"])
            # The event row and its wake-up in one statement, as feeds.events.emit does.
            await conn.fetchval(
                "INSERT INTO event (created_at, type, child_id, payload) VALUES "
                "(now(), 'post.created', $1, $2) RETURNING id, pg_notify('jigsaw_events', '')",
                child,
                json.dumps(data),
            )
            await conn.execute(
                "INSERT INTO search_outbox (created_at, post_id, child_id, op, "
                "attempts, last_error) VALUES (now(), $1, $2, 'index', 0, '')",
                post_id,
                child,
            )
            await audit(conn, user, "post.create", child)  # last, as Jigsaw does
    return JSONResponse({"id": post_id}, status_code=201)


async def insert(request: Request) -> Response:
    data = json.loads(await request.body())
    async with request.app.state.pool.acquire() as conn:
        post_id = await conn.fetchval(
            "INSERT INTO post (child_id, author_id, kind, body, created_at) VALUES "
            "($1, 1, 'update', 'plain insert', now()) RETURNING id",
            int(data["child"]),
        )
    return JSONResponse({"id": post_id}, status_code=201)


app = Starlette(
    routes=[
        Route("/api/v1/children/{child}/posts", feed, methods=["GET"]),
        Route("/api/v1/children/{child}/posts", post, methods=["POST"]),
        Route("/insert", insert, methods=["POST"]),
    ],
    lifespan=lifespan,
)
