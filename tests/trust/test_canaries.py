"""Canaries: every child's posts and name carry a unique marker; no actor ever receives a
marker of a child it may not see, in any GET body (HTML and API, every route in the
route table), websocket frame (replay and live), search hit, or log line.

A granted practitioner is the positive control: it must see its own child's marker in
each channel, so a scan that finds nothing is a real result and not a blind one.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from pypdf import PdfReader
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection

from feeds.audit.records import SYSTEM
from feeds.chronology.marking import Marking, do_mark
from feeds.clock import utcnow
from feeds.feed.posting import do_create_post
from feeds.models import (
    BreakGlass,
    Child,
    Follow,
    Grant,
    Notification,
    Post,
    PostKind,
    Professional,
    Role,
)
from feeds.records.shielding import do_shield_child
from server.app import build_routes
from server.auth import issue_token
from tests.conftest import Factory
from tests.live_server import receive, ws_connect

# Actors that may see nothing, only the third child (through their team), or only the
# second (an active break-glass).
CONTROL = "granted"  # sees child 0 only: the positive control
CLIENT_LOGGERS = ("httpx", "httpcore", "websockets.client")
ACTORS = (
    "no_grant",
    "expired",
    "revoked",
    "other_team",
    "admin",
    "other_manager",
    "glass_expired",
    "glass_active",
    CONTROL,
)


@dataclass
class World:
    children: list[Child]  # children[2] is shielded: its team sees it, never who it is
    markers: list[str]  # markers[i] belongs to children[i]
    keys: list[str]  # search words in child i's posts (a reflected query is not a leak)
    tokens: dict[str, str]
    may_see: dict[str, set[int]]  # actor -> indexes of children it may see
    writer: str  # token of someone granted to every child
    ids: dict[str, list[int]] = field(default_factory=dict)
    # The shielded child's name and reference: no actor here holds a direct grant on it
    # (its team and their manager see "Shielded child"), so none may ever receive them.
    identity: list[str] = field(default_factory=list)


def named_in(world: World, child: Child) -> str:
    """What a live post says of the shielded child: its name and reference."""
    return " ".join(world.identity) if child.id == world.children[2].id else ""


def forbidden_markers(world: World, actor: str) -> list[str]:
    hidden = [m for i, m in enumerate(world.markers) if i not in world.may_see[actor]]
    return hidden + world.identity


def leaks(world: World, actor: str, text: str) -> list[str]:
    lowered = text.lower()  # a name is a name in any case
    return [m for m in forbidden_markers(world, actor) if m.lower() in lowered]


async def build_world(make: Factory) -> World:
    markers = [f"cnry{i}q{secrets.token_hex(5)}" for i in range(3)]
    keys = [f"srch{i}k{secrets.token_hex(5)}" for i in range(3)]
    children = []
    for marker in markers:
        child = await make.child()
        child.display_name = f"Canary {marker}"
        await child.save(update_fields=["display_name"])
        children.append(child)
    writer = await make.practitioner(grants=children)
    people: dict[str, Professional] = {
        name: await make.professional(role=Role.ADMIN if name == "admin" else Role.PRACTITIONER)
        for name in ACTORS
        if name != "other_manager"
    }
    people["other_manager"] = await make.professional(role=Role.MANAGER)
    await make.grant(children[0], professional=people["expired"], expired=True)
    await make.grant(children[0], professional=people["revoked"], revoked=True)
    await make.grant(children[1], professional=people["revoked"], revoked=True)
    await make.grant(children[0], professional=people[CONTROL])
    now = utcnow()
    for name, child, ends in (
        ("glass_expired", children[0], now - timedelta(minutes=1)),
        ("glass_active", children[1], now + timedelta(hours=4)),
    ):
        await BreakGlass.create(
            child=child, professional=people[name], reason="canary", started_at=now, expires_at=ends
        )
    own_team = await make.team(members=[writer])
    await make.grant(children[0], team=own_team)
    other = await make.team(members=[people["other_team"]], managers=[people["other_manager"]])
    await make.grant(children[2], team=other)
    for child, key, marker in zip(children, keys, markers, strict=True):
        for n, kind in enumerate((PostKind.UPDATE, PostKind.HUNCH, PostKind.CONCERN)):
            # Bodies carry the post marker, never the shielded child's identity canaries.
            body = f"visit {key} {marker} n{n}"
            made = await do_create_post(writer, child.id, kind.value, body, SYSTEM)
        # The chronology's own fields carry the marker too (and so its CSV and PDF).
        noted = Marking(True, f"action {marker}", f"outcome {marker}")
        await do_mark(writer, made.post.id, noted, SYSTEM)
        # A mention-style notification for the writer, about each child.
        await Notification.create(recipient=writer, kind="mention", child_id=child.id)
    identity = [f"shname{secrets.token_hex(5)}", f"SHREF{secrets.token_hex(5)}"]
    await shield(children[2], writer, *identity)
    # The writer (a direct grant) names the shielded child in a post: those who see its
    # label read the name withheld there (feeds/access/identity.py), so these are canaries
    # in every post body too; the other team follows it (home, since yesterday, My children).
    named = f"visit {keys[2]} {markers[2]} saw {identity[0].upper()} ref {identity[1]}"
    await do_create_post(writer, children[2].id, PostKind.UPDATE.value, named, SYSTEM)
    await Follow.create(child=children[2], team=other)
    tokens = {name: (await issue_token(p, "canary"))[1] for name, p in people.items()}
    may_see: dict[str, set[int]] = {name: set() for name in people} | {
        CONTROL: {0},
        "other_team": {2},
        "other_manager": {2},
        "glass_active": {1},
    }
    world = World(children, markers, keys, tokens, may_see, (await issue_token(writer, "w"))[1])
    world.identity = identity
    world.ids = {
        "child_id": [c.id for c in children],
        "post_id": [p.id for p in await Post.all().order_by("id")],
        "grant_id": [g.id for g in await Grant.all().order_by("id")],
        "notification_id": [n.id for n in await Notification.all().order_by("id")],
    }
    return world


async def shield(child: Child, lead: Professional, name: str, reference: str) -> None:
    """Name the child with canaries, make `lead` its lead, and shield it."""
    child.display_name, child.reference, child.lead_professional_id = name, reference, lead.id
    await child.save(update_fields=["display_name", "reference", "lead_professional_id"])
    await do_shield_child(lead, child.id, "canary: a family in a refuge", SYSTEM)


def get_paths(world: World) -> list[str]:
    """Every GET route in the table, with each path parameter set to every seeded id."""
    paths = []
    for route in build_routes():
        if not isinstance(route, Route) or "GET" not in (route.methods or set()):
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        choices = [world.ids.get(name, [1]) for name in names]
        for values in itertools.product(*choices):
            path = route.path
            for name, value in zip(names, values, strict=True):
                path = re.sub(r"{" + name + r"(?::\w+)?}", str(value), path)
            paths.append(path)
    return paths


def queries(path: str, world: World) -> list[str]:
    """Search needs a query: ask for each child's marker, and for text every post shares."""
    if path.endswith("/search"):
        return [f"?q={k}" for k in world.keys] + ["?q=visit", "?q=visit&order=relevance"]
    if path.endswith("/board"):
        return ["", "?status=all"]
    return [""]


async def wait_for_search(http: httpx.AsyncClient, world: World) -> None:
    """The outbox drains asynchronously: wait until the control finds its child's marker."""
    headers = {"authorization": f"Bearer {world.tokens[CONTROL]}"}
    for _ in range(100):
        found = await http.get(f"/api/v1/search?q={world.keys[0]}", headers=headers)
        if found.status_code == 200 and found.json()["count"] > 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("search never indexed the canary posts")


async def scan_http(
    http: httpx.AsyncClient, world: World
) -> tuple[list[str], int, set[str], set[str]]:
    """(leaks, requests made, markers the control saw, paths where it saw its own)."""
    found, made, control_saw, control_paths = [], 0, set(), set()
    for path in get_paths(world):
        for query, actor in itertools.product(queries(path, world), ACTORS):
            headers = {"authorization": f"Bearer {world.tokens[actor]}"}
            response = await http.get(path + query, headers=headers)
            made += 1
            if response.status_code >= 500:  # not a leak; the fuzzer and route tests own 5xx
                print(f"canaries: {actor} GET {path}{query} -> {response.status_code}")
            text = body_text(response)
            found += [f"{actor} GET {path}{query}: {m}" for m in leaks(world, actor, text)]
            if actor == CONTROL:
                control_saw |= {m for m in world.markers if m in text}
                control_paths |= {path} if world.markers[0] in text else set()
    return found, made, control_saw, control_paths


def body_text(response: httpx.Response) -> str:
    """The text a person reads: a PDF's (exports are compressed), or the body."""
    if response.headers.get("content-type", "").startswith("application/pdf"):
        reader = PdfReader(io.BytesIO(response.content))
        return "\n".join(page.extract_text() for page in reader.pages)
    return response.text


async def frames_until_quiet(socket: ClientConnection) -> list[str]:
    frames = []
    with_timeout = True
    while with_timeout:
        try:
            frames.append(str(await asyncio.wait_for(socket.recv(), 1.0)))
        except TimeoutError:
            with_timeout = False
    return frames


async def scan_websockets(address: str, world: World) -> tuple[list[str], set[str]]:
    """Each actor replays the whole log (?after=0) and then listens while the writer posts."""
    found: list[str] = []
    control_saw: set[str] = set()
    async with ActorSockets(address, world) as sockets:
        for socket in sockets.values():
            assert (await receive(socket))["type"] == "hello"
        async with httpx.AsyncClient(base_url=f"http://{address}") as http:
            for child, marker in zip(world.children, world.markers, strict=True):
                created = await http.post(
                    f"/api/v1/children/{child.id}/posts",
                    json={"kind": "hunch", "body": f"live {marker} {named_in(world, child)}"},
                    headers={"authorization": f"Bearer {world.writer}"},
                )
                assert created.status_code == 201
        for actor, socket in sockets.items():
            text = "\n".join(await frames_until_quiet(socket))
            found += [f"{actor} websocket: {m}" for m in leaks(world, actor, text)]
            if actor == CONTROL:
                control_saw = {m for m in world.markers if m in text}
    return found, control_saw


class ActorSockets:
    """Open one replaying socket per actor."""

    def __init__(self, address: str, world: World) -> None:
        self.connects = {a: ws_connect(address, world.tokens[a], after=0) for a in ACTORS}

    async def __aenter__(self) -> dict[str, ClientConnection]:
        return {a: await c.__aenter__() for a, c in self.connects.items()}

    async def __aexit__(self, *exc: object) -> None:
        for connect in self.connects.values():
            await connect.__aexit__(None, None, None)


async def test_no_actor_receives_a_marker_of_a_child_it_may_not_see(
    live: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = await build_world(Factory())
    async with httpx.AsyncClient(base_url=f"http://{live}", timeout=30) as http:
        if any(p.endswith("/api/v1/search") for p in get_paths(world)):
            await wait_for_search(http, world)
        http_leaks, made, control_http, control_paths = await scan_http(http, world)
    ws_leaks, control_ws = await scan_websockets(live, world)
    # The server runs in this process: every record but the test's own HTTP client's.
    server_records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    log_text = "\n".join(record.getMessage() for record in server_records)
    log_leaks = [f"log: {m}" for m in world.markers if m in log_text]
    print(f"canaries: {made} GET requests ({len(ACTORS)} actors), {len(ACTORS)} replaying sockets")
    assert http_leaks + ws_leaks + log_leaks == []
    assert control_http == {world.markers[0]}, "the control must see its child, and only it"
    assert control_ws == {world.markers[0]}
    # The exports are read too (the PDF's text extracted): the control finds its marker.
    mine = f"/api/v1/children/{world.children[0].id}/chronology"
    assert {f"{mine}.pdf", f"{mine}.csv", mine} <= control_paths
    await identity_control(live, world)


async def identity_control(live: str, world: World) -> None:
    """The writer holds a direct grant on the shielded child: it sees the name and
    reference, so their absence elsewhere is a real result."""
    shielded = world.children[2].id
    headers = {"authorization": f"Bearer {world.writer}"}
    async with httpx.AsyncClient(base_url=f"http://{live}", timeout=30) as http:
        for path in (f"/children/{shielded}", f"/api/v1/children/{shielded}"):
            seen = (await http.get(path, headers=headers)).text
            assert all(canary in seen for canary in world.identity), path
        # The writer reads the name in its post's text, as written.
        feed = (await http.get(f"/api/v1/children/{shielded}/posts", headers=headers)).text
        assert world.identity[0].upper() in feed and world.identity[1] in feed
