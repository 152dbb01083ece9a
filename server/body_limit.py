"""The request-body size limit, enforced while the body streams in, before anything else
reads it (asgi-csrf buffers form bodies, routes read JSON) and before authentication.

The body is counted message by message as it arrives from the server; the moment it passes
the limit the request is refused with 413 and the rest is never read. A Content-Length
over the limit is refused unread; one that is absent or lies changes nothing, because
the count is of the bytes actually received. No endpoint takes a body anywhere near the
limit (a post is at most 500 characters), so a route gets the body only once it is
complete, and so never acts on half a request. Form bodies must also be UTF-8 (asgi-csrf
decodes them strictly, before any route could answer).

The routes that take a file (server/uploads.py) get their multipart body as it streams,
counted the same way: past the route's limit the read raises BodyTooLarge, which the route
answers with its page (or, should the route not catch it, this middleware with 413).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.middleware import send_json_error
from server.uploads import FORM_OVERHEAD, BodyTooLarge, file_limit, is_multipart, size_text

MAX_BODY_BYTES = 64 * 1024
TOO_LARGE = f"The request body is too large: at most {MAX_BODY_BYTES // 1024} KiB."
FORM = "application/x-www-form-urlencoded"


def declared_length(scope: Scope) -> int | None:
    """The Content-Length header as a number, or None when absent or not a number."""
    raw = Headers(scope=scope).get("content-length", "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


async def read_up_to(receive: Receive, limit: int) -> list[Message] | None:
    """The request's messages up to the end of its body (or a disconnect); None as soon
    as the body passes `limit` bytes."""
    messages: list[Message] = []
    received = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages  # the client went away: the app sees the disconnect
        received += len(message.get("body", b""))
        if received > limit:
            return None
        if not message.get("more_body", False):
            return messages


def is_undecodable_form(scope: Scope, messages: list[Message]) -> bool:
    """True for a URL-encoded form body that is not UTF-8."""
    if Headers(scope=scope).get("content-type", "").split(";")[0].strip() != FORM:
        return False
    try:
        b"".join(m.get("body", b"") for m in messages).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def replaying(messages: list[Message], receive: Receive) -> Receive:
    """A receive channel that hands out `messages`, then carries on from `receive`
    (where a disconnect arrives later)."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def counting(receive: Receive, limit: int) -> Receive:
    """A receive channel that raises BodyTooLarge once the body passes `limit` bytes."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise BodyTooLarge
        return message

    return counted


async def answer_unless_started(
    app: ASGIApp,
    call: tuple[Scope, Receive, Send],
    error: type[Exception],
    status: int,
    message: str,
) -> None:
    """Run `app`; when it raises `error` before it has started its answer (the CSRF check
    was still reading, say), answer with `status` and `message` instead."""
    scope, receive, send = call
    started = False

    async def watched(event: Message) -> None:
        nonlocal started
        started = started or event["type"] == "http.response.start"
        await send(event)

    try:
        await app(scope, receive, watched)
    except error:
        if started:
            raise
        await send_json_error(send, status, "too_large", message)


async def stream_upload(app: ASGIApp, call: tuple[Scope, Receive, Send], limit: int) -> None:
    """Hand an upload's body to the app as it arrives, within `limit` bytes of file."""
    scope, receive, send = call
    message = f"The file is too big: at most {size_text(limit)}."
    counted = (scope, counting(receive, limit + FORM_OVERHEAD), send)
    await answer_unless_started(app, counted, BodyTooLarge, 413, message)


class BodyLimitMiddleware:
    """Refuse (413) any HTTP request whose body passes `limit` bytes, counting as it reads."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = file_limit(scope)
        if upload is not None and is_multipart(Headers(scope=scope)):
            await stream_upload(self.app, (scope, receive, send), upload)
            return
        declared = declared_length(scope) or 0
        messages = None if declared > self.limit else await read_up_to(receive, self.limit)
        if messages is None:
            await send_json_error(send, 413, "too_large", TOO_LARGE)
            return
        if is_undecodable_form(scope, messages):
            await send_json_error(send, 422, "invalid", "Send the form as UTF-8.")
            return
        await self.app(scope, replaying(messages, receive), send)
