"""A real uvicorn server inside the test's event loop, for websocket tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from feeds.models import Professional
from server.app import create_app
from server.auth import issue_token
from server.cli import UVICORN_WS_OPTIONS
from server.settings import Settings
from tests import db_backends


@contextlib.asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[str]:
    """Serve create_app(settings) on a free loopback port; yields 'host:port'."""
    if not settings.is_sqlite:
        await db_backends.truncate_postgres(settings.database_url)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        **UVICORN_WS_OPTIONS,  # the websocket protocol and limits `jigsaw serve` uses
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def ws_connect(
    address: str,
    token: str | None = None,
    after: int | None = None,
    cookie: str | None = None,
    **kwargs: Any,
) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if cookie:
        headers["cookie"] = cookie
    query = f"?after={after}" if after is not None else ""
    return connect(
        f"ws://{address}/ws{query}", additional_headers=headers, open_timeout=5, **kwargs
    )


async def receive(socket: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout))
    return message


async def receive_until(
    socket: ClientConnection, type_: str, timeout: float = 3.0
) -> dict[str, Any]:
    while True:
        message = await receive(socket, timeout)
        if message["type"] == type_:
            return message


async def nothing_more(
    socket: ClientConnection, wait: float = 0.4, ignore: tuple[str, ...] = ()
) -> bool:
    """True when no message (other than of the `ignore`d types) arrives within `wait` s."""
    deadline = asyncio.get_running_loop().time() + wait
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(socket.recv(), left))
        except TimeoutError:
            return True
        if message.get("type") not in ignore:
            return False
    return True


async def token_for(person: Professional) -> str:
    """A fresh API token for `person` (bearer auth for calls and sockets)."""
    return (await issue_token(person, "test"))[1]


async def call(address: str, person: Professional, path: str, body: Mapping[str, object]) -> int:
    """POST `body` as JSON to the running server as `person`; the status code."""
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        response = await http.post(
            path, json=body, headers={"authorization": f"Bearer {await token_for(person)}"}
        )
    return response.status_code
