"""The lean websocket protocol's waiting parts (server/ws_protocol.py) behave as the
asyncio.Queue and asyncio.Event they replace, for the ways uvicorn's protocol uses them.
The protocol as a whole is exercised by every live test (tests/live_server.py serves with
`jigsaw serve`'s websocket options)."""

from __future__ import annotations

import asyncio

from server.ws_protocol import Gate, Inbox


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
