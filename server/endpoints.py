"""How routes declare who may call them, and the request helpers they share.

Every endpoint is wrapped by `public` or `authenticated`; a test walks the route table
and fails on any endpoint without a declared policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from feeds.audit.records import AuditContext
from feeds.errors import Invalid, NotFound
from feeds.models import Professional
from feeds.raw_sql import one_connection
from server.auth import session_user, token_user
from server.client_address import client_address
from server.inputs import check_form
from server.replica_reads import after_write, reads_for
from server.settings import Settings

Endpoint = Callable[[Request], Awaitable[Response]]
UserEndpoint = Callable[[Request, Professional], Awaitable[Response]]
# Row ids are 32-bit integers in PostgreSQL; a larger number names nothing (and asyncpg
# would refuse to send it).
MAX_ID = 2**31 - 1


class NotAuthenticated(Exception):
    """No valid session or token; API answers 401, pages redirect to the login form."""


def settings_of(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.settings
    return settings


def audit_context(conn: HTTPConnection) -> AuditContext:
    return AuditContext(
        ip=client_address(conn, settings_of(conn).trusted_proxies),
        request_id=conn.scope.get("state", {}).get("request_id", ""),
    )


def bearer_token(conn: HTTPConnection) -> str | None:
    """The bearer token, if the client sent an Authorization header (then cookies are ignored)."""
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


# Sent by the page's scripts on the requests they make by themselves, in answer to live
# events (re-reading the board or a child's activity, marking live posts seen).
BACKGROUND_HEADER = "x-jigsaw-background"


def is_activity(conn: HTTPConnection) -> bool:
    """Whether this request shows the person is there, and so moves the session's idle
    timer on. A websocket upgrade (a page reconnects by itself) and a page's background
    requests do not: an unattended screen still showing live posts is what the idle limit
    is for (server/sessions_watch.py closes its sockets once the limit passes)."""
    return conn.scope["type"] == "http" and BACKGROUND_HEADER not in conn.headers


async def resolve_user(conn: HTTPConnection) -> Professional | None:
    """The caller, by bearer token or session cookie; cached on the connection."""
    if hasattr(conn.state, "user"):
        cached: Professional | None = conn.state.user
        return cached
    token = bearer_token(conn)
    user: Professional | None = None
    if token:
        user = await token_user(token)
    elif token is None and (cookie := conn.cookies.get(settings_of(conn).session_cookie)):
        user = await session_user(cookie, settings_of(conn), touch=is_activity(conn))
    conn.state.user = user  # token_user and session_user load the agency with the user
    return user


def public(endpoint: Endpoint) -> Endpoint:
    """Declare an endpoint open to anonymous callers."""
    endpoint.policy = "public"  # type: ignore[attr-defined]
    return endpoint


def authenticated(endpoint: UserEndpoint) -> Endpoint:
    """Declare an endpoint for logged-in professionals; the domain checks each child."""

    @wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        user = await resolve_user(request)
        if user is None:
            raise NotAuthenticated
        with reads_for(request, user):
            response = await endpoint(request, user)
        await after_write(request, user, response)
        return response

    wrapper.policy = "authenticated"  # type: ignore[attr-defined]
    return wrapper


def on_one_connection(endpoint: Endpoint) -> Endpoint:
    """The whole request (sign-in check included) on one pooled database connection
    (feeds/pinned.py): for hot endpoints that start no background task."""

    @wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        async with one_connection():
            return await endpoint(request)

    return wrapper


def is_number(raw: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²", which int() refuses."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 18


def path_id(request: Request, name: str) -> int:
    """An integer path parameter; anything else is a 404 (it names nothing)."""
    raw = str(request.path_params.get(name, ""))
    if not is_number(raw) or int(raw) > MAX_ID:
        raise NotFound(f"No such {name.removesuffix('_id')}.")
    return int(raw)


def query_int(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not is_number(raw) or int(raw) > MAX_ID:
        raise Invalid(f"{name} must be a whole number up to {MAX_ID}.", field=name)
    return int(raw)


async def read_form(request: Request) -> FormData:
    """The submitted form, or Invalid when a field holds text that cannot be stored."""
    return check_form(await request.form())
