"""The bare baseline: Starlette + raw asyncpg running the SQL Jigsaw runs for a feed read
and a post, statement for statement, and answering with the same JSON, without the ORM,
middleware, schemas, CSRF or audit helpers around it. The capacity goal is Jigsaw's
throughput against this app's.

Every statement text is imported from where Jigsaw defines it, and
tests/loadtests/test_bare_app.py holds the two apps' statements and answers equal,
request by request, so the baseline cannot drift into doing less work than Jigsaw does.

    JIGSAW_DATABASE_URL=postgres://... uvicorn loadtests.bare_app:app --workers 2
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise import Tortoise

from feeds.access.policy import CHILD_STANDINGS_SQL, UNIDENTIFIED_SHIELDED_SQL, row_standings
from feeds.access.redaction import hiding
from feeds.access.rules import Action, allows
from feeds.audit.actions import AuditAction
from feeds.audit.records import _INSERT_SQL as AUDIT_SQL
from feeds.db import MODELS_APP, tortoise_config
from feeds.events import _EMIT_SQL, _NOTIFY
from feeds.feed.posting import _OUTBOX_SQL, _POST_SQL, request_fingerprint
from feeds.feed.reading import POST_VIEWS_SQL
from feeds.kinds import WORRY_KINDS
from feeds.models import Agency, Child, PostKind, Professional
from feeds.network.involvement import _KNOWN_SQL
from feeds.network.models import EntryKind, WorryEpisode
from feeds.network.worry import _SHARES_SQL
from feeds.network.worry_episodes import _CURRENT_SQL, _LOCK_SQL, _ONE_CHILD_SQL
from feeds.network.worry_rule import WINDOW
from feeds.raw_sql import column_names, columns
from feeds.velocity.detector import CONCERN_KINDS
from feeds.velocity.tallies import ADD_POST_SQL
from server.auth import BEARER_USER_SQL, digest

# Model column lists exist once Tortoise knows the models (no connection needed).
Tortoise.init_models(tortoise_config("sqlite://:memory:")["apps"][MODELS_APP]["models"], MODELS_APP)
TOKEN_SQL = BEARER_USER_SQL.format(people=columns(Professional, "p"), agencies=columns(Agency, "a"))
STANDINGS_SQL = CHILD_STANDINGS_SQL.format(columns=columns(Child, "c"))
PAGE_SQL = POST_VIEWS_SQL.format(before="")
EVENT_SQL = _EMIT_SQL + _NOTIFY
EPISODE_SQL = _CURRENT_SQL.format(columns=columns(WorryEpisode, "e"))
AGENCY_INVOLVED = EntryKind.AGENCY_INVOLVED.value
# Where TOKEN_SQL's row holds the caller: after the token's id and last use, the person's
# columns, then the agency's.
PERSON = 2
EMAIL = PERSON + column_names(Professional).index("email")
AGENCY = PERSON + len(column_names(Professional))
AGENCY_NAME = AGENCY + column_names(Agency).index("name")
# ... and the columns a written post's author shows.
AUTHOR = {k: PERSON + column_names(Professional).index(k) for k in ("name", "handle", "job_title")}
NOT_FOUND = JSONResponse({"error": "not found"}, status_code=404)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["JIGSAW_DATABASE_URL"], max_size=10)
    yield
    await app.state.pool.close()


async def _caller(conn: asyncpg.Connection, request: Request) -> asyncpg.Record | None:
    """The bearer token's professional (id, email, agency), as Jigsaw looks it up."""
    raw = request.headers.get("authorization", "").removeprefix("Bearer ")
    found = await conn.fetchrow(TOKEN_SQL, digest(raw))
    return found


async def _may_see(conn: asyncpg.Connection, child: int, user: int, now: datetime) -> bool:
    """Jigsaw's access check: the child and the caller's standings in one statement,
    judged by the access policy's own rule."""
    row = await conn.fetchrow(STANDINGS_SQL, child, now, user)
    return row is not None and allows(row_standings(row), Action.VIEW)


async def _audit(
    conn: asyncpg.Connection, caller: asyncpg.Record, action: str, child: int, detail: Any
) -> None:
    """Jigsaw's audit append: one unsealed INSERT, no lock (its sealer chains it later)."""
    at, who, email = datetime.now(UTC), caller[PERSON], caller[EMAIL]
    await conn.fetchval(AUDIT_SQL, at, who, email, action, child, "ok", "", "", json.dumps(detail))


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _post(row: asyncpg.Record) -> dict[str, Any]:
    """A post of the feed page's query as Jigsaw's API shows it."""
    post_id, child, kind, body, created, edited, author, name, handle, title, agency = row
    who = {"id": author, "name": name, "handle": handle, "job_title": title, "agency": agency}
    return {
        "id": post_id,
        "child_id": child,
        "kind": kind,
        "body": body,
        "created_at": _when(created),
        "edited_at": _when(edited),
        "author": who,
    }


def _shares(rows: list[asyncpg.Record], worries: list[int]) -> dict[int, dict[str, Any]]:
    """Who shares each worry, oldest first, as Jigsaw's API shows it."""
    found: dict[int, dict[str, Any]] = {post: {"count": 0, "shared_by": []} for post in worries}
    for post, person, name, title, agency, note, created in rows:
        who = {"id": person, "name": name, "job_title": title, "agency": agency}
        share = {"professional": who, "note": note, "created_at": _when(created)}
        found[post]["shared_by"].append(share)
        found[post]["count"] += 1
    return found


async def feed(request: Request) -> Response:
    child, now = int(request.path_params["child"]), datetime.now(UTC)
    async with request.app.state.pool.acquire() as conn:
        caller = await _caller(conn, request)
        if caller is None or not await _may_see(conn, child, caller[PERSON], now):
            return NOT_FOUND
        rows = await conn.fetch(PAGE_SQL, child, 21)
        posts = [_post(r) for r in rows[:20]]
        read = {"before": None, "count": len(posts)}
        await _audit(conn, caller, AuditAction.FEED_READ.value, child, read)
        if posts:  # the shielded names withheld from this reader
            hidden = await conn.fetch(UNIDENTIFIED_SHIELDED_SQL, now, caller[PERSON])
            if hidden:
                redact = hiding(tuple(sorted((r[0], r[1], r[2]) for r in hidden)))
                posts = [{**p, "body": redact(p["body"])} for p in posts]
        worries = [p["id"] for p in posts if p["kind"] in WORRY_KINDS]
        if worries:  # who shares each hunch and concern
            ids = ", ".join(f"${n}" for n in range(1, len(worries) + 1))
            shares = _shares(await conn.fetch(_SHARES_SQL.format(ids=ids), *worries), worries)
            posts = [{**p, "worry": shares[p["id"]]} if p["id"] in shares else p for p in posts]
    more = posts[-1]["id"] if len(rows) > 20 else None
    return JSONResponse({"posts": posts, "next_before": more})


async def post(request: Request) -> Response:
    child, now = int(request.path_params["child"]), datetime.now(UTC)
    data = json.loads(await request.body())
    kind, body, key = data["kind"], data["body"], request.headers.get("idempotency-key")
    async with request.app.state.pool.acquire() as conn:
        caller = await _caller(conn, request)
        if caller is None or not await _may_see(conn, child, caller[PERSON], now):
            return NOT_FOUND
        user, agency, agency_name = caller[PERSON], caller[AGENCY], caller[AGENCY_NAME]
        async with conn.transaction():
            fingerprint = request_fingerprint(child, PostKind(kind), body)
            post_id = await conn.fetchval(_POST_SQL, child, user, kind, body, now, key, fingerprint)
            worried = kind in CONCERN_KINDS
            await conn.execute(
                ADD_POST_SQL, child, now.date(), kind, str(user), agency_name, worried, now
            )
            payload = json.dumps({"post_id": post_id})
            await conn.fetchval(EVENT_SQL, now, "post.created", child, None, payload)
            await conn.fetchval(_OUTBOX_SQL, now, post_id, child, "index")
            await conn.fetch(_KNOWN_SQL, child, AGENCY_INVOLVED, agency)
            if kind in WORRY_KINDS:  # Jigsaw reassesses the child's worry episode
                await conn.fetch(_LOCK_SQL, child)
                await conn.fetch(_ONE_CHILD_SQL, now - WINDOW, child)
                await conn.fetch(EPISODE_SQL, child)
            done = {"post_id": post_id, "kind": kind}
            await _audit(conn, caller, AuditAction.POST_CREATE.value, child, done)
    author = {"id": user, **{k: caller[i] for k, i in AUTHOR.items()}, "agency": agency_name}
    written = {
        "id": post_id,
        "child_id": child,
        "kind": kind,
        "body": body,
        "created_at": _when(now),
        "edited_at": None,
        "author": author,
        "unreachable_mentions": [],
    }
    return JSONResponse(written, status_code=201)


app = Starlette(
    routes=[
        Route("/api/v1/children/{child}/posts", feed, methods=["GET"]),
        Route("/api/v1/children/{child}/posts", post, methods=["POST"]),
    ],
    lifespan=lifespan,
)
