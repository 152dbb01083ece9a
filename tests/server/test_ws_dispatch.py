"""Live sockets reach their endpoint straight from the app (server/ws_dispatch.py): nothing
the HTTP middleware does for a websocket is lost, the endpoint's own checks still refuse,
a socket gets a request id, and a failing endpoint meets the app's exception handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import CoroutineType
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.routing import WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from feeds.models import AuditRecord
from server.app import create_app
from server.settings import Settings
from server.ws_dispatch import DirectWebSockets
from tests.conftest import Factory
from tests.live_server import receive, token_for, ws_connect

HTTP_STACK: tuple[str, ...] = (
    "server/middleware.py",
    "server/body_limit.py",
    "server/page_context.py",
)
HTTP_STACK += ("asgi_csrf.py", "starlette/middleware/", "starlette/routing.py")


def websocket_scope() -> Scope:
    return {
        "type": "websocket",
        "path": "/ws",
        "root_path": "",
        "query_string": b"after=1",
        "headers": [(b"origin", b"https://evil.example"), (b"cookie", b"jigsaw_session=x")],
        "client": ("127.0.0.1", 5000),
        "state": {},
    }


async def handed_on(middleware: Any, scope: Scope) -> tuple[bool, list[Message]]:
    """Whether `middleware` called its app with exactly this scope, receive and send; and
    what it answered itself."""
    handed: list[tuple[Scope, Receive, Send]] = []
    sent: list[Message] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        handed.append((scope, receive, send))

    async def receive() -> Message:
        raise AssertionError("read the socket")

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(inner)(scope, receive, send)
    return handed == [(scope, receive, send)] and handed[0][0] is scope, sent


async def test_every_http_middleware_hands_a_websocket_on_untouched(settings: Settings) -> None:
    """What the direct dispatch skips does nothing for a websocket: the same scope, receive
    and send go on, unchanged, and nothing is answered."""
    stack = [Middleware(ServerErrorMiddleware), *create_app(settings).user_middleware]
    assert len(stack) > 5
    for cls, args, kwargs in stack:
        scope = websocket_scope()
        untouched, sent = await handed_on(lambda app: cls(app, *args, **kwargs), scope)  # noqa: B023
        assert untouched and scope == websocket_scope() and sent == [], cls


def coroutine_files(task: asyncio.Task[Any]) -> list[str]:
    """The source files of the frames a task is suspended in, outermost first."""
    files: list[str] = []
    awaited: object = task.get_coro()
    while isinstance(awaited, CoroutineType):
        files.append(awaited.cr_code.co_filename + ":" + awaited.cr_code.co_name)
        awaited = awaited.cr_await
    return files


async def test_an_open_live_socket_holds_none_of_the_http_stack(live: str) -> None:
    token = await token_for(await Factory().practitioner())
    async with ws_connect(live, token) as socket:
        assert (await receive(socket))["type"] == "hello"
        chains = [coroutine_files(task) for task in asyncio.all_tasks()]
        [chain] = [c for c in chains if any(f.endswith(":live_socket") for f in c)]
    assert any("server/ws_dispatch.py" in frame for frame in chain)
    assert [f for f in chain if any(part in f for part in HTTP_STACK)] == []


async def subscribe_records(person_id: int, since: int) -> list[dict[str, Any]]:
    return await AuditRecord.filter(
        id__gt=since, actor_id=person_id, action="live.subscribe"
    ).values("outcome", "request_id")


async def last_record_id() -> int:
    last = await AuditRecord.all().order_by("-id").first()
    return last.id if last else 0


def is_request_id(value: str) -> bool:
    return len(value) == 16 and all(c in "0123456789abcdef" for c in value)


async def test_a_socket_has_a_request_id_its_audit_record_names(live: str) -> None:
    person = await Factory().practitioner()
    since = await last_record_id()
    for _ in range(2):
        async with ws_connect(live, await token_for(person)) as socket:
            assert (await receive(socket))["type"] == "hello"
    records = await subscribe_records(person.id, since)
    assert [r["outcome"] for r in records] == ["ok", "ok"]
    assert all(is_request_id(r["request_id"]) for r in records)
    assert records[0]["request_id"] != records[1]["request_id"]


async def test_a_foreign_origin_is_still_refused_and_recorded_with_its_request_id(
    live: str,
) -> None:
    person = await Factory().practitioner()
    since = await last_record_id()
    with pytest.raises(InvalidStatus) as refusal:
        async with ws_connect(live, await token_for(person), origin="https://evil.example"):
            pass
    assert refusal.value.response.status_code == 403
    [record] = await subscribe_records(person.id, since)
    assert record["outcome"] == "denied" and is_request_id(record["request_id"])


async def test_a_websocket_to_another_path_still_meets_the_router(live: str) -> None:
    headers = {"authorization": f"Bearer {await token_for(await Factory().practitioner())}"}
    for path in ("/ws/", "/wss", "/api/v1/children"):
        with pytest.raises(InvalidStatus) as refusal:
            async with connect(f"ws://{live}{path}", additional_headers=headers):
                pass
        assert refusal.value.response.status_code == 403, path


class Boom(Exception):
    pass


async def boom(websocket: WebSocket) -> None:
    await websocket.accept()
    raise Boom


async def close_4321(websocket: WebSocket, exc: Exception) -> None:
    await websocket.send_text("handled")  # the endpoint's socket, accepted: not a new one
    await websocket.close(code=4321)


App = Callable[..., Starlette]
Handler = Callable[[WebSocket, Exception], Awaitable[None]]


def failing_app(kind: App, handlers: dict[Any, Handler]) -> Starlette:
    route = WebSocketRoute("/ws", boom)
    extra = {"direct_websockets": [route]} if kind is DirectWebSockets else {}
    return kind(routes=[route], exception_handlers=handlers, **extra)


async def run_socket(app: Starlette) -> list[Message]:
    """Connect to /ws, then leave the app to it: what it sent."""
    sent: list[Message] = []
    incoming = iter([{"type": "websocket.connect"}])

    async def receive() -> Message:
        return next(incoming, {"type": "websocket.disconnect", "code": 1000})

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {**websocket_scope(), "headers": [], "subprotocols": []}
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("kind", [Starlette, DirectWebSockets])
async def test_a_failing_endpoint_meets_the_apps_handler_as_through_the_stack(kind: App) -> None:
    sent = await run_socket(failing_app(kind, {Boom: close_4321}))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "handled" and sent[2]["code"] == 4321


@pytest.mark.parametrize("kind", [Starlette, DirectWebSockets])
async def test_an_unhandled_failure_goes_on_to_the_server_as_through_the_stack(kind: App) -> None:
    # The app's 500 handler is the error middleware's, which hands websocket errors on.
    with pytest.raises(Boom):
        await run_socket(failing_app(kind, {Exception: close_4321}))
