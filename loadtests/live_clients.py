"""The live benchmark's clients, each in a process of its own (loadtests/live_bench.py).

Readers hold websockets open and time each post from its commit (`created_at`, same
machine clock) to its arrival; the writer posts at a steady rate. Neither shares an event
loop with the other or with the server, and each reports the CPU it used in the measured
window, so a reader of the results can tell a slow server from a saturated client.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

OPEN_AT_ONCE = 200  # concurrent handshakes: stays well inside the listen backlog


@dataclass
class ReaderResult:
    latencies_ms: list[float] = field(default_factory=list)
    received: list[int] = field(default_factory=list)  # post ids, one per delivery
    arrived: list[float] = field(default_factory=list)  # wall-clock arrival, one per delivery
    opened: int = 0
    closed_early: int = 0  # sockets the server closed during the window
    cpu_s: float = 0.0
    wall_s: float = 0.0


@dataclass
class Target:
    url: str
    headers: dict[str, str]


async def _read(socket: ClientConnection, result: ReaderResult) -> None:
    async for raw in socket:
        arrived = time.time()
        message: dict[str, Any] = json.loads(raw)
        if message.get("type") != "post.created":
            continue
        created = datetime.fromisoformat(message["data"]["created_at"]).timestamp()
        result.latencies_ms.append((arrived - created) * 1000)
        result.received.append(int(message["data"]["id"]))
        result.arrived.append(arrived)
    result.closed_early += 1


async def _hold(target: Target, result: ReaderResult, gate: asyncio.Semaphore) -> None:
    async with gate:
        socket = await connect(
            target.url,
            additional_headers=target.headers,
            open_timeout=120,
            ping_interval=None,  # browsers do not ping; the server does
            max_size=2**20,
            compression=None,
        )
        await socket.recv()  # hello
    result.opened += 1
    await _read(socket, result)


async def _readers(targets: list[Target], control: Connection) -> ReaderResult:
    result, gate = ReaderResult(), asyncio.Semaphore(OPEN_AT_ONCE)
    holders = [asyncio.create_task(_hold(t, result, gate)) for t in targets]
    while result.opened < len(targets):
        failed = [h for h in holders if h.done() and h.exception() is not None]
        if failed:
            raise RuntimeError(f"{len(failed)} sockets failed to open") from failed[0].exception()
        await asyncio.sleep(0.2)
    control.send(("opened", result.opened))
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, control.recv) == "go"
    cpu, wall = time.process_time(), time.monotonic()
    assert await loop.run_in_executor(None, control.recv) == "stop"
    result.cpu_s, result.wall_s = time.process_time() - cpu, time.monotonic() - wall
    for holder in holders:  # the sockets close when the process ends
        holder.cancel()
    return result


def readers_main(targets: list[Target], control: Connection) -> None:
    """Process entry: open every socket, say so, measure between "go" and "stop"."""
    control.send(("result", asyncio.run(_readers(targets, control))))


@dataclass
class WriterResult:
    children: list[int] = field(default_factory=list)  # the child of each post, in order
    post_ms: list[float] = field(default_factory=list)
    answered: dict[int, float] = field(default_factory=dict)  # post id -> wall clock of its 201
    cpu_s: float = 0.0
    wall_s: float = 0.0


async def _write(
    base: str, headers: dict[str, str], path: str, children: list[int], rate: float, seconds: float
) -> WriterResult:
    result = WriterResult()
    cpu = time.process_time()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            child = children[len(result.children) % len(children)]
            began = time.monotonic()
            body = {"kind": "update", "body": f"bench post {len(result.children)}"}
            response = await http.post(path.format(child=child), json=body)
            result.post_ms.append((time.monotonic() - began) * 1000)
            response.raise_for_status()
            result.answered[int(response.json()["id"])] = time.time()
            result.children.append(child)
            await asyncio.sleep(max(0.0, start + len(result.children) / rate - time.monotonic()))
        result.wall_s = time.monotonic() - start
    result.cpu_s = time.process_time() - cpu
    return result


def writer_main(
    base: str,
    headers: dict[str, str],
    path: str,
    children: list[int],
    rate: float,
    seconds: float,
    control: Connection,
) -> None:
    """Process entry: post `rate` times a second for `seconds`, round-robin over children."""
    control.send(("result", asyncio.run(_write(base, headers, path, children, rate, seconds))))
