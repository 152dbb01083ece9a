"""The lean websocket protocol's waiting parts (server/ws_protocol.py) behave as the
asyncio.Queue and asyncio.Event they replace, for the ways uvicorn's protocol uses them.
The protocol as a whole is exercised by every live test (tests/live_server.py serves with
`jigsaw serve`'s websocket options)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from server.cli import UVICORN_WS_OPTIONS
from server.ws_protocol import Gate, Inbox, LeanWebSocketProtocol


async def test_the_inbox_hands_messages_out_in_order_and_wakes_a_waiting_reader() -> None:
    inbox = Inbox()
    inbox.put_nowait({"n": 1})
    inbox.put_nowait({"n": 2})
    assert not inbox.empty()
    assert [await inbox.get(), await inbox.get()] == [{"n": 1}, {"n": 2}]
    assert inbox.empty()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait({"n": 3})
    assert await reader == {"n": 3}


async def test_a_cancelled_read_loses_nothing() -> None:
    inbox = Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("kept")
    reader.cancel()  # woken and cancelled before it ran: the message stays queued
    await asyncio.gather(reader, return_exceptions=True)
    assert await inbox.get() == "kept"


async def test_two_readers_each_get_one_message() -> None:
    inbox = Inbox()
    readers = [asyncio.create_task(inbox.get()) for _ in range(2)]
    await asyncio.sleep(0)
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    assert sorted(await asyncio.gather(*readers)) == ["a", "b"]


async def test_the_gate_holds_writers_while_the_buffer_is_full() -> None:
    gate = Gate()
    assert gate.is_set() and await gate.wait()
    gate.clear()  # the transport paused writing
    writers = [asyncio.create_task(gate.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in writers)
    gate.set()  # drained
    assert await asyncio.gather(*writers) == [True, True]


def stock_and_lean() -> tuple[WebSocketsSansIOProtocol, LeanWebSocketProtocol]:
    """uvicorn's protocol and ours, for one server configured as `jigsaw serve` does."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    config = Config(app, **UVICORN_WS_OPTIONS)
    config.load()
    state = ServerState()
    return WebSocketsSansIOProtocol(config, state, {}), LeanWebSocketProtocol(config, state, {})


def handshake_started(protocol: WebSocketsSansIOProtocol) -> None:
    """What uvicorn sets on a connection once a handshake arrives."""
    protocol.request, protocol.response, protocol.scope = None, None, {}  # type: ignore[assignment,typeddict-item]


async def test_the_lean_protocol_answers_every_attribute_as_uvicorns() -> None:
    stock, lean = stock_and_lean()
    for protocol in (stock, lean):
        handshake_started(protocol)
    assert vars(stock), "uvicorn keeps its state in instance attributes"
    for name, value in vars(stock).items():
        ours = getattr(lean, name)
        if name in {"queue", "writable", "conn"}:  # our own waiters; a parser of its own
            assert isinstance(ours, {"queue": Inbox, "writable": Gate}.get(name, type(value)))
        else:
            assert ours == value, name
    assert lean.conn.max_message_size == stock.conn.max_message_size == 64 * 1024
    assert lean.conn.available_extensions == stock.conn.available_extensions == []


async def test_a_lean_connection_keeps_no_dict_of_its_own() -> None:
    """Within CPython's shared instance keys (30), handshake included: ~0.3 KiB of
    attributes a connection, not uvicorn's ~1.6 KiB dict."""
    stock, lean = stock_and_lean()
    for protocol in (stock, lean):
        handshake_started(protocol)
    assert len(vars(lean)) <= 30 < len(vars(stock))
    assert sys.getsizeof(vars(lean)) * 3 < sys.getsizeof(vars(stock))
