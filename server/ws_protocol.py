"""uvicorn's sans-I/O websocket protocol, keeping less for each open socket.

A live socket is open for hours and almost always idle, so what matters at 10,000 of
them is what each one holds while it waits. uvicorn's protocol keeps the handshake's
request and response (headers and all) for the connection's life, waits with an
asyncio.Queue and an asyncio.Event (four deques and an Event, a few KiB per socket, for
one reader and one writer), and copies what every connection shares onto each one. This
subclass lets the handshake's headers go once it is answered, waits with a list and a
future, and reads the shared parts through the config and server state. Everything else
(framing, keepalive pings, closing) is uvicorn's, unchanged; `jigsaw serve` selects it
(server/cli.py, UVICORN_WS_OPTIONS).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from uvicorn._types import WebSocketScope
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol


class Inbox:
    """The messages waiting for the app's `receive`: what the protocol used of
    asyncio.Queue (put_nowait, get, empty), with no deque and no Event per socket."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiters: list[asyncio.Future[None]] | None = None  # only while one waits

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_one()

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if self._waiters and waiter in self._waiters:
                    self._waiters.remove(waiter)
                if self._items:  # woken, then cancelled: the message goes to another reader
                    self._wake_one()
                raise
        return self._items.pop(0)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break
        if not self._waiters:
            self._waiters = None


class Gate:
    """Open unless the transport's write buffer is full: what the protocol used of
    asyncio.Event (set, clear, wait), with no deque until someone waits."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> bool:
        if self._open:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        await waiter
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol with less kept per connection.

    What is the same for every connection a server accepts (its app, logger, limits and
    shared sets) is read through the config and server state instead of copied onto each
    one: uvicorn's ~37 attributes a connection overflow the keys CPython shares between
    instances of a class (30), so each connection had a dict of its own, ~1.6 KiB; with
    the 28 kept here it has a shared-key dict (~0.3 KiB). Attributes uvicorn sets later
    (the handshake's request, response and scope) are declared in __init__, so they too
    take a shared key (tests/server/test_ws_protocol.py checks all this against uvicorn)."""

    logger = logging.getLogger("uvicorn.error")
    close_timeout = 10.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # uvicorn 0.55's WebSocketsSansIOProtocol.__init__, less the shared attributes.
        if not config.loaded:
            config.load()
        self.config = config
        self.server_state = server_state
        self.loop = _loop or asyncio.get_event_loop()
        self.app_state = app_state
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: tuple[str, int | None] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme: Literal["wss", "ws"] = None  # type: ignore[assignment]
        self.queue = Inbox()  # type: ignore[assignment]  # the same three methods
        self.handshake_initiated = False
        self.handshake_complete = False
        self.close_sent = False
        self.disconnected = False
        self.close_timer: asyncio.TimerHandle | None = None
        self.initial_response: tuple[int, list[tuple[str, str]], bytes] | None = None
        extensions = []  # `jigsaw serve` turns per-message deflate off (server/cli.py)
        if config.ws_per_message_deflate:
            deflate = ServerPerMessageDeflateFactory(
                server_max_window_bits=12,
                client_max_window_bits=12,
                compress_settings={"memLevel": 5},
            )
            extensions = [deflate]
        self.conn = ServerProtocol(
            extensions=extensions, max_size=config.ws_max_size, logger=self.logger
        )
        self.read_paused = False
        self.writable = Gate()  # type: ignore[assignment]  # the same three methods
        self.ping_timer: asyncio.TimerHandle | None = None
        self.pong_timer: asyncio.TimerHandle | None = None
        self.pending_ping_payload: bytes | None = None
        self.ping_sent_at: float = 0.0
        self.last_ping_rtt: float = 0.0
        self.frames: list[bytes] = []
        self.curr_msg_data_type: Literal["text", "bytes"] = "bytes"
        self.request: Request | None = None  # type: ignore[assignment]  # set at the handshake
        self.response: Response | None = None  # type: ignore[assignment]
        self.scope: WebSocketScope = None  # type: ignore[assignment]

    # What every connection of a server shares.
    app = property(lambda self: self.config.loaded_app)
    root_path = property(lambda self: self.config.root_path)
    asgi_version = property(lambda self: self.config.asgi_version)
    ping_interval = property(lambda self: self.config.ws_ping_interval)
    ping_timeout = property(lambda self: self.config.ws_ping_timeout)
    connections = property(lambda self: self.server_state.connections)
    tasks = property(lambda self: self.server_state.tasks)
    default_headers = property(lambda self: self.server_state.default_headers)

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The handshake is answered: its request and response are never read again
            # (the app has the headers in its scope). The websockets parser's suspended
            # frame still holds the request, so its headers are emptied in place.
            if self.request is not None:
                self.request.headers.clear()
            self.request = self.response = None
