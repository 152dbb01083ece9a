"""uvicorn's sans-I/O websocket protocol, keeping less for each open socket.

A live socket is open for hours and almost always idle, so what matters at 10,000 of
them is what each one holds while it waits. uvicorn's protocol keeps the handshake's
request and response (headers and all) for the connection's life, and waits with an
asyncio.Queue and an asyncio.Event: four deques and an Event, a few KiB per socket, for
one reader and one writer. This subclass lets the handshake's headers go once it is
answered, and waits with a list and a future. Everything else (framing, keepalive pings, closing) is
uvicorn's, unchanged; `jigsaw serve` selects it (server/cli.py, UVICORN_WS_OPTIONS).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState


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
    """uvicorn's websockets-sansio protocol with less kept per connection."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.queue = Inbox()  # type: ignore[assignment]  # the same three methods
        self.writable = Gate()  # type: ignore[assignment]  # the same three methods

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The handshake is answered: its request and response are never read again
            # (the app has the headers in its scope). The websockets parser's suspended
            # frame still holds the request, so its headers are emptied in place.
            request = self.__dict__.pop("request", None)
            if request is not None:
                request.headers.clear()
            self.__dict__.pop("response", None)
