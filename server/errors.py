"""One place maps failures to answers: domain errors to 4xx, the unexpected to a plain 500.

API paths get JSON, the one shape of server.schemas.common.Error:
{"error": {"code", "message", "field"}}; pages get an HTML page. Every validation
failure (server.schemas.codec or a domain check) is Invalid: 422, code "invalid".
Nothing here ever shows a stack trace, SQL or a post's text.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import urlencode

import asyncpg
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates
from tortoise.exceptions import DBConnectionError, IntegrityError, OperationalError

from feeds.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Throttled
from feeds.serializers import me_view
from search.service import SearchUnavailable
from server.auth import LoginFailed, LoginThrottled
from server.endpoints import NotAuthenticated
from server.middleware import SECURITY_HEADERS
from server.schemas.codec import reply
from server.schemas.common import Error, ErrorDetail

log = logging.getLogger("jigsaw")

STATUS = {NotFound: 404, Forbidden: 403, Invalid: 422, Conflict: 409, Throttled: 429}
CODES = {
    404: "not_found",
    403: "forbidden",
    422: "invalid",
    409: "conflict",
    401: "not_authenticated",
    429: "throttled",
    503: "unavailable",
    500: "server_error",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def error_response(
    request: Request, status: int, message: str, field: str | None = None
) -> Response:
    if wants_json(request):
        return reply(Error(ErrorDetail(CODES.get(status, "error"), message, field)), status)
    templates: Jinja2Templates = request.app.state.templates
    user = getattr(request.state, "user", None)
    context = {
        "status": status,
        "message": message,
        "user": me_view(user) if user is not None else None,
        "csrf_token": request.scope["csrftoken"]() if "csrftoken" in request.scope else "",
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status = next(code for cls, code in STATUS.items() if isinstance(exc, cls))
    return error_response(request, status, exc.message, exc.field)


async def not_authenticated(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return error_response(request, 401, "Log in first: no valid session or token.")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


async def login_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginFailed)
    return error_response(request, 401, exc.message)


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


async def throttled(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginThrottled)
    response = error_response(
        request,
        429,
        f"Too many failed sign-in attempts: wait {_wait_words(exc.retry_after)} and try "
        "again. If it keeps happening, ask an administrator to unlock the account.",
    )
    response.headers["retry-after"] = str(exc.retry_after)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "Not found.", 405: "Method not allowed."}
    return error_response(request, exc.status_code, messages.get(exc.status_code, exc.detail))


async def database_down(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", type(exc).__name__)
    response = error_response(request, 503, "The database is unavailable: try again shortly.")
    response.headers["retry-after"] = "2"
    return response


# What a database restart looks like from here: Tortoise wraps some failures, asyncpg's
# pool raises the rest raw (refused connects, connections killed by the shutdown).
DATABASE_OUTAGES: tuple[type[Exception], ...] = (
    DBConnectionError,
    OperationalError,
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,
)


CLASHED = "Someone else changed this at the same moment: reload and try again."


async def integrity_error(request: Request, exc: Exception) -> Response:
    """A uniqueness or reference rule the database kept when two requests raced past the
    checks made before writing (each action checks first and says what is wrong; only a
    race gets here). Nothing was written (the transaction rolled back). The database's own
    message names tables and values, so neither the answer nor the log repeats it."""
    cause = type(exc.__cause__ or exc).__name__
    log.warning("database refused a write as a clash (%s): answered 409", cause)
    return error_response(request, 409, CLASHED)


async def search_down(request: Request, exc: Exception) -> Response:
    log.warning("search unavailable: %s", type(exc.__cause__).__name__)
    response = error_response(request, 503, SearchUnavailable.message)
    response.headers["retry-after"] = "5"
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error (request %s)", request.scope.get("state", {}).get("request_id"))
    response = error_response(request, 500, "Something went wrong on our side, and it is logged.")
    # This handler runs outside our middleware stack, so add the headers here.
    response.headers.update(SECURITY_HEADERS)
    response.headers["cache-control"] = "no-store"
    return response


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up while sending its body: nobody will read an answer, and it is
    no server error (load tests end this way); nothing was written."""
    return Response(status_code=400)


EXCEPTION_HANDLERS = {
    ClientDisconnect: client_gone,
    DomainError: domain_error,
    NotAuthenticated: not_authenticated,
    LoginThrottled: throttled,
    LoginFailed: login_failed,
    HTTPException: http_error,
    **dict.fromkeys(DATABASE_OUTAGES, database_down),
    SearchUnavailable: search_down,
    IntegrityError: integrity_error,
    asyncpg.DataError: server_error,  # a value PostgreSQL cannot take is our bug, not an outage
    Exception: server_error,
}
