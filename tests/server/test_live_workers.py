"""Two real uvicorn processes on one database: a post made through one is delivered to a
websocket connected to the other (LISTEN/NOTIFY on PostgreSQL, polling on SQLite)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette

from server.auth import issue_token
from server.settings import Settings
from tests.conftest import MFA_KEY, Factory
from tests.live_server import receive, receive_until, ws_connect


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def worker(settings: Settings) -> AsyncIterator[str]:
    """`uvicorn server.asgi:app` in its own process; yields its address once healthy."""
    port = free_port()
    env = {
        **os.environ,
        "JIGSAW_DATABASE_URL": settings.database_url,
        "JIGSAW_SECRET_KEY": str(settings.secret_key),
        "JIGSAW_MFA_KEYS": MFA_KEY,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "server.asgi:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--ws-per-message-deflate",
        "false",
        env=env,
    )
    address = f"127.0.0.1:{port}"
    try:
        await wait_healthy(address)
        yield address
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def wait_healthy(address: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        for _ in range(100):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"worker at {address} did not start")


async def test_post_through_one_worker_reaches_a_socket_on_the_other(
    app: Starlette, settings: Settings, make: Factory
) -> None:
    child = await make.child()
    reader, writer = (
        await make.practitioner(grants=[child]),
        await make.practitioner(grants=[child]),
    )
    reader_token, writer_token = (
        (await issue_token(reader, "r"))[1],
        (await issue_token(writer, "w"))[1],
    )
    async with (
        worker(settings) as first,
        worker(settings) as second,
        ws_connect(first, reader_token) as socket_on_first,
    ):
        await receive(socket_on_first)
        async with httpx.AsyncClient(base_url=f"http://{second}") as http:
            created = await http.post(
                f"/api/v1/children/{child.id}/posts",
                json={"kind": "concern", "body": "bruise on left arm, explanation vague"},
                headers={"authorization": f"Bearer {writer_token}"},
            )
        assert created.status_code == 201
        message = await receive_until(socket_on_first, "post.created", timeout=5)
    assert message["data"]["id"] == created.json()["id"]
