"""Websocket handshake defences (TRUST "Browser": 4.4.x).

Starlette's CORS middleware does not cover websockets, so /ws checks Origin itself: a
cookie-authenticated upgrade must come from this site or a configured origin (else
cross-site websocket hijacking would ride the session cookie). Tokens never go in URLs.
`jigsaw serve` turns per-message compression off and caps messages at 64 KiB.

The basic cases (anonymous, foreign Origin with a token, cookie without Origin) are in
tests/server/test_live.py; these are the rest.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from server.auth import issue_token
from server.settings import Settings
from tests.conftest import MFA_KEY, PASSWORD, Factory
from tests.live_server import receive, running_server, ws_connect

ALLOWED = "https://jigsaw.council.example"


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[str]:
    async with running_server(replace(settings, allowed_origins=(ALLOWED,))) as address:
        yield address


async def session_cookie(address: str) -> str:
    person = await Factory().practitioner()
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": person.email, "password": PASSWORD}
        )
        assert login.status_code == 200
    return f"jigsaw_session={login.cookies['jigsaw_session']}"


async def refused(address: str, **kwargs: object) -> int:
    """The HTTP status of a refused upgrade (fails the test if it is accepted)."""
    with pytest.raises(InvalidStatus) as refusal:
        async with ws_connect(address, **kwargs):  # type: ignore[arg-type]
            pass
    return refusal.value.response.status_code


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",  # sandboxed iframes and file: pages
        "http://127.0.0.1:1",  # same host, another port: another origin
        ALLOWED + ".evil.example",
        "http://evil.example/127.0.0.1",
    ],
)
async def test_a_cookie_upgrade_from_another_origin_is_refused(live: str, origin: str) -> None:
    cookie = await session_cookie(live)
    assert await refused(live, cookie=cookie, origin=origin) == 403


async def test_a_cookie_upgrade_from_a_configured_origin_is_accepted(live: str) -> None:
    cookie = await session_cookie(live)
    for origin in (ALLOWED, ALLOWED + "/", f"http://{live}"):
        async with ws_connect(live, cookie=cookie, origin=origin) as socket_:
            assert (await receive(socket_))["type"] == "hello"


async def test_a_token_upgrade_with_a_foreign_origin_is_refused_but_without_one_allowed(
    live: str,
) -> None:
    token = (await issue_token(await Factory().practitioner(), "ws"))[1]
    assert await refused(live, token=token, origin="https://evil.example") == 403
    async with ws_connect(live, token) as socket_:  # a native client sends no Origin
        assert (await receive(socket_))["type"] == "hello"


async def test_a_token_in_the_url_does_not_authenticate(live: str) -> None:
    token = (await issue_token(await Factory().practitioner(), "ws"))[1]
    for query in (f"token={token}", f"access_token={token}", f"authorization=Bearer%20{token}"):
        with pytest.raises(InvalidStatus) as refusal:
            async with connect(f"ws://{live}/ws?{query}", origin=Origin(f"http://{live}")):
                pass
        assert refusal.value.response.status_code == 403


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def wait_healthy(address: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        for _ in range(300):
            assert server.poll() is None, "jigsaw serve exited"
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("jigsaw serve did not start")


async def test_jigsaw_serve_refuses_compression_and_large_messages(
    app: Starlette, settings: Settings
) -> None:
    token = (await issue_token(await Factory().practitioner(), "ws"))[1]
    port = free_port()
    env = {
        **os.environ,
        "JIGSAW_DATABASE_URL": settings.database_url,
        "JIGSAW_SECRET_KEY": str(settings.secret_key),
        "JIGSAW_MFA_KEYS": MFA_KEY,
        "JIGSAW_DATA_DIR": str(settings.data_dir),
    }
    server = subprocess.Popen(  # noqa: ASYNC220 - a server we stop below
        [sys.executable, "-c", "from server.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"
    try:
        await wait_healthy(address, server)
        async with ws_connect(address, token, compression="deflate") as socket_:
            assert socket_.response.headers.get("sec-websocket-extensions") is None
            assert (await receive(socket_))["type"] == "hello"
            await socket_.send("x" * 60_000)  # under the cap: ignored, the socket stays open
            await socket_.send("x" * (64 * 1024 + 1))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(socket_.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
