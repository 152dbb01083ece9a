"""ASGI middleware: request ids and security headers, same-origin checks, CSRF tokens."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from asgi_csrf import asgi_csrf
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.inputs import NOT_ALLOWED, unclean_query_field
from server.settings import Settings
from server.uploads import CSRF_FAILED, file_limit, has_boundary, is_multipart, is_upload

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def new_request_id(scope: Scope) -> str:
    """A fresh id for this request or websocket, kept in its state: audit records and error
    logs name it."""
    request_id = secrets.token_hex(8)
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id


class SecurityHeadersMiddleware:
    """A request id on every request; security headers and no-store on every response."""

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.https = https
        self.defaults = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in {**SECURITY_HEADERS, "cache-control": "no-store"}.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                present = {name for name, _ in headers.raw}
                # Appended raw, as MutableHeaders.setdefault would, without its per-header scan.
                headers.raw.extend(h for h in self.defaults if h[0] not in present)
                headers["x-request-id"] = request_id
                if self.https:
                    headers["strict-transport-security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def send_json_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def is_same_origin(headers: Headers, allowed: tuple[str, ...]) -> bool:
    """True when the Origin header (if any) names this site or a configured origin."""
    origin = headers.get("origin")
    if origin is None:
        return headers.get("sec-fetch-site", "same-origin") in {"same-origin", "none"}
    if origin.rstrip("/") in allowed:
        return True
    return urlsplit(origin).netloc == headers.get("host", "")


class SameOriginMiddleware:
    """Refuse cross-site unsafe requests (defence in depth next to CSRF tokens),
    and multipart bodies except where a route takes a file (server/uploads.py)."""

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not is_same_origin(headers, self.allowed):
            await send_json_error(send, 403, "cross_origin", "Cross-site requests are refused.")
            return
        if headers.get("content-type", "").startswith("multipart/") and not (
            file_limit(scope) is not None and is_multipart(headers) and has_boundary(headers)
        ):
            await send_json_error(
                send, 415, "unsupported_media_type", "Send JSON or a URL-encoded form."
            )
            return
        await self.app(scope, receive, send)


class CleanQueryMiddleware:
    """Refuse (422) a query string holding text that cannot be stored (a NUL byte), before
    any route reads it: query parameters are read in many places, and refused in one. The
    websocket reads only `after`, as a number, and ignores anything else (ws.parse_after)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            field := unclean_query_field(scope.get("query_string", b""))
        ):
            await send_json_error(send, 422, "invalid", f"{field} {NOT_ALLOWED}.")
            return
        await self.app(scope, receive, send)


async def _csrf_failed(scope: Scope, send: Send, message_id: Any) -> None:
    await send_json_error(
        send,
        403,
        "csrf",
        CSRF_FAILED,
    )


API = "/api/"
# Sign-in hands out a CSRF token for the session it starts (server/routes/api_auth.py).
SIGN_IN_API = "/api/v1/auth/"


def is_bearer_api_call(scope: Scope) -> bool:
    """An API request (past sign-in) with an `Authorization: Bearer` header, tested as
    asgi-csrf tests it (the last such header, the scheme's exact spelling)."""
    path: str = scope["path"]
    if not path.startswith(API) or path.startswith(SIGN_IN_API):
        return False
    authorization = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
    return authorization.startswith(b"Bearer ")


def csrf_middleware(app: ASGIApp, settings: Settings) -> ASGIApp:
    """Double-submit CSRF tokens (asgi-csrf) on every cookie-authenticated unsafe request.
    An upload's token is checked by server.uploads.read_upload against the same token, once
    the form is parsed and before the route acts: asgi-csrf's own multipart reading does
    not work with the python-multipart this app uses (its FormParser lost `FileClass`).

    A bearer API call goes straight on: asgi-csrf lets every bearer request through
    whatever it carries (documented: browsers cannot send that header cross-site), and no
    API route past sign-in asks for a token, yet asgi-csrf signs a fresh one for every
    request without a CSRF cookie (an HMAC, about 70 µs, the most of any one step of a
    feed read)."""
    protected: ASGIApp = asgi_csrf(
        app,
        signing_secret=str(settings.secret_key),
        always_protect={"/login"},
        cookie_secure=settings.https,
        send_csrf_failed=_csrf_failed,
        skip_if_scope=is_upload,
    )

    async def csrf(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_bearer_api_call(scope):
            await app(scope, receive, send)
        else:
            await protected(scope, receive, send)

    return csrf
