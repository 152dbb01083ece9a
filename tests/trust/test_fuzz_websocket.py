"""Hypothesis against /ws on a live server configured like `jigsaw serve` (64 KiB message
cap, no compression): arbitrary client frames and handshakes (TRUST "Bad input").

Each example is either
- an authenticated socket (the canary control's token, `?after=` fuzzed) that sends 0-6
  frames: random JSON, plausible-looking commands with wrong types, huge numbers, unknown
  ops and bad `last_event_id`/resume values, random text, binary, empty and oversized
  frames; or
- a handshake that should not authenticate (garbage bearer tokens, cookies, Origins,
  queries).
Then a writer posts to a child the control may not see and to the one it may. The server
must: never crash or log an unhandled error; refuse bad handshakes with 403; close a
socket only with a documented code (1009 after an oversized frame, 4000 after "reload");
otherwise deliver the visible post to the same socket; never send a frame carrying the
hidden child's canary; and keep serving an observer socket opened before the run.

CI: 150 examples (~15-25 s). More: JIGSAW_WS_FUZZ_EXAMPLES=2000.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from feeds.audit.records import SYSTEM
from feeds.feed.posting import do_create_post
from feeds.models import Child, Professional
from server.app import create_app
from server.auth import issue_token
from server.settings import Settings
from tests import db_backends
from tests.conftest import Factory

EXAMPLES = int(os.environ.get("JIGSAW_WS_FUZZ_EXAMPLES", "150"))
MAX_MESSAGE = 64 * 1024  # as `jigsaw serve` configures uvicorn
DOCUMENTED_CLOSES = {1000, 1009, 1012, 4000, 4008}
TIMEOUT = 5.0


@contextlib.asynccontextmanager
async def serve_like_production(settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    """create_app(settings) under uvicorn with the websocket limits of `jigsaw serve`."""
    if not settings.is_sqlite:
        await db_backends.truncate_postgres(settings.database_url)
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        log_config=None,  # uvicorn's records reach the root logger, so caplog sees them
        ws_per_message_deflate=False,
        ws_max_size=MAX_MESSAGE,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", task
    finally:
        server.should_exit = True
        await task


# --- what the client sends ----------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
ODD_VALUES = (
    JSON_SCALARS
    | st.sampled_from(["0", "-1", "²", "1e309", "NaN", "9" * 40, "' OR 1=1 --", "\x00"])
    | st.lists(st.integers(), max_size=3)
)
COMMANDS = st.fixed_dictionaries(
    {"type": st.sampled_from(["subscribe", "resume", "ping", "ack", "post", "hello"]) | ODD_VALUES},
    optional={
        "op": st.text(max_size=20) | ODD_VALUES,
        "last_event_id": ODD_VALUES,
        "after": ODD_VALUES,
        "resume": ODD_VALUES,
        "child_id": ODD_VALUES,
        "children": st.lists(ODD_VALUES, max_size=4),
        "token": st.text(max_size=40),
    },
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)


@dataclass(frozen=True)
class Frame:
    data: str | bytes

    @property
    def oversized(self) -> bool:
        size = len(self.data.encode()) if isinstance(self.data, str) else len(self.data)
        return size > MAX_MESSAGE


def _dumps(value: object) -> str:
    return json.dumps(value, allow_nan=True)


FRAMES = st.one_of(
    ANY_JSON.map(_dumps),
    COMMANDS.map(_dumps),
    TEXT,
    st.binary(max_size=512),
    st.just(""),
    st.just(b""),
).map(Frame)
TOO_BIG: list[str | bytes] = ["x" * (MAX_MESSAGE + 1), b"\0" * (MAX_MESSAGE + 10)]
OVERSIZED = st.sampled_from(TOO_BIG).map(Frame)
# One socket in ten ends with a frame over the cap (which closes it: 1009).
ONE_IN_TEN = st.sampled_from([False] * 9 + [True])
SOCKET_FRAMES = st.tuples(st.lists(FRAMES, max_size=6), ONE_IN_TEN).flatmap(
    lambda drawn: OVERSIZED.map(lambda big: [*drawn[0], big]) if drawn[1] else st.just(drawn[0])
)
AFTER = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=50).map(str),
    st.sampled_from(["", "abc", "²", "1e3", "-0", "9" * 19, "9" * 18, "0x10", " 1", "1 "]),
    TEXT,
)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@dataclass(frozen=True)
class Handshake:
    """An upgrade that must not authenticate."""

    authorization: str | None
    cookie: str | None
    origin: str | None
    after: str | None


HANDSHAKES = st.builds(
    Handshake,
    authorization=st.none() | HEADER_TEXT.map(lambda t: f"Bearer {t}") | HEADER_TEXT,
    cookie=st.none() | HEADER_TEXT.map(lambda t: f"jigsaw_session={quote(t)}"),
    origin=st.none() | st.sampled_from(["https://evil.example", "null"]) | HEADER_TEXT,
    after=AFTER,
)
EXAMPLE = st.one_of(
    st.tuples(st.just("socket"), AFTER, SOCKET_FRAMES),
    st.tuples(st.just("handshake"), HANDSHAKES),
)


# --- the world and the run ----------------------------------------------------------


@dataclass
class Run:
    address: str
    loop: asyncio.AbstractEventLoop
    writer: Professional
    visible: Child
    hidden: Child
    token: str
    hidden_marker: str
    frames_seen: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    visible_markers: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


async def build_run(address: str, make: Factory) -> Run:
    visible, hidden = await make.child(), await make.child()
    writer = await make.practitioner(grants=[visible, hidden])
    control = await make.practitioner(grants=[visible])
    marker = f"hiddn{secrets.token_hex(6)}"
    for n in range(3):  # something to replay with ?after=
        await do_create_post(writer, hidden.id, "update", f"{marker} seed {n}", SYSTEM)
        await do_create_post(writer, visible.id, "update", f"visible seed {n}", SYSTEM)
    token = (await issue_token(control, "ws-fuzz"))[1]
    loop = asyncio.get_running_loop()
    return Run(address, loop, writer, visible, hidden, token, marker)


def ws_url(address: str, after: str | None) -> str:
    return f"ws://{address}/ws" + ("" if after is None else f"?after={quote(after, safe='')}")


async def post_pair(run: Run) -> str:
    """A post the control may not see, then one it may; returns the visible one's marker."""
    await do_create_post(run.writer, run.hidden.id, "hunch", f"{run.hidden_marker} live", SYSTEM)
    visible = f"vis{secrets.token_hex(6)}"
    await do_create_post(run.writer, run.visible.id, "hunch", visible, SYSTEM)
    run.visible_markers.append(visible)
    return visible


async def frames_until(socket: ClientConnection, run: Run, marker: str) -> None:
    """Read until `marker` arrives; every frame is kept for the canary scan."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        frame = await asyncio.wait_for(socket.recv(), max(0.1, deadline - time.monotonic()))
        text = frame if isinstance(frame, str) else frame.decode(errors="replace")
        run.frames_seen.append(text)
        if marker in text:
            return


async def fuzz_socket(run: Run, after: str | None, frames: list[Frame]) -> None:
    headers = {"authorization": f"Bearer {run.token}"}
    async with connect(ws_url(run.address, after), additional_headers=headers) as socket:
        hello = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
        assert hello["type"] == "hello" and isinstance(hello["last_id"], int)
        try:
            for frame in frames:
                await socket.send(frame.data)
            marker = await post_pair(run)
            await frames_until(socket, run, marker)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            assert code in DOCUMENTED_CLOSES, f"closed with {code}"
            if code == 1009:
                assert any(f.oversized for f in frames), "1009 without an oversized frame"
            if code == 4000:
                assert any('"reload"' in f for f in run.frames_seen)
            run.count(f"closed {code}")
            return
    run.count("delivered")


async def fuzz_handshake(run: Run, shake: Handshake) -> None:
    headers = {
        name: value
        for name, value in (("authorization", shake.authorization), ("cookie", shake.cookie))
        if value is not None
    }
    origin = Origin(shake.origin) if shake.origin is not None else None
    url = ws_url(run.address, shake.after)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=headers, origin=origin, open_timeout=TIMEOUT):
            pass
    assert refused.value.response.status_code == 403
    run.count("handshake refused")


async def one_example(run: Run, example: tuple[Any, ...]) -> None:
    if example[0] == "socket":
        await fuzz_socket(run, example[1], example[2])
    else:
        await fuzz_handshake(run, example[1])


async def read_all(socket: ClientConnection, into: list[str]) -> None:
    """Keep reading (so the client answers pings and the server's queue never fills)."""
    async for frame in socket:
        into.append(frame if isinstance(frame, str) else frame.decode(errors="replace"))


def fuzz_in_thread(run: Run) -> None:
    """Hypothesis drives from this worker thread; every example runs on the server's loop."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(example=EXAMPLE)
    def check(example: tuple[Any, ...]) -> None:
        asyncio.run_coroutine_threadsafe(one_example(run, example), run.loop).result(30)

    check()


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    async with serve_like_production(settings) as running:
        yield running


async def test_arbitrary_client_frames_never_crash_the_server_or_leak(
    server: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    address, task = server
    run = await build_run(address, Factory())
    observer_headers = {"authorization": f"Bearer {run.token}"}
    async with connect(ws_url(address, None), additional_headers=observer_headers) as observer:
        assert json.loads(await observer.recv())["type"] == "hello"
        observed: list[str] = []
        reader = asyncio.create_task(read_all(observer, observed))
        await asyncio.to_thread(fuzz_in_thread, run)
        assert not task.done(), "the server stopped"
        # The observer, open through the whole run, got every visible post and is live.
        last = await post_pair(run)
        for _ in range(100):
            if any(last in frame for frame in observed) or reader.done():
                break
            await asyncio.sleep(0.05)
        assert not reader.done(), reader  # the server never closed it
        reader.cancel()
    text = "\n".join(observed)
    assert [m for m in run.visible_markers if m not in text] == []
    run.frames_seen += observed
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        assert (await http.get("/healthz")).status_code == 200
    leaks = [frame for frame in run.frames_seen if run.hidden_marker in frame]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    print(f"websocket fuzz: {EXAMPLES} examples, outcomes {run.outcomes}")
    assert leaks == []
    assert errors == []
    assert run.outcomes.get("delivered", 0) > EXAMPLES // 10  # the fuzzer reached the stream
    assert run.outcomes.get("handshake refused", 0) > 0
