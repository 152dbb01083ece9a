"""Regressions for the independent security probe (issue 14).

1. The event log was a second copy of content: `/ws?after=0` replayed original and
   removed post text. Replay now renders from ids under current state.
2. Break-glass held by a manager allowed removing others' posts and reading the audit
   (the matrix in tests/server/test_access_matrix.py covers every route; here the story).
3. Hidden posts, grants and children answered differently from missing ones.
4. The page grant form looked the email up before checking permission.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from feeds import event_views, events
from feeds.clock import utcnow
from feeds.models import BreakGlass, Child, Event, Post, PostKind, Professional, Role
from server.auth import issue_token
from server.live import Hub, Subscriber
from server.settings import Settings
from tests.conftest import Factory
from tests.live_server import receive, ws_connect

MISSING = 999_999  # an id nothing has


async def token_for(person: Professional) -> str:
    return (await issue_token(person, "probe"))[1]


# --- 1. replay renders under current state ---------------------------------------------


class Api:
    def __init__(self, address: str) -> None:
        self.address = address

    async def call(
        self, person: Professional, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {await token_for(person)}"}
        async with httpx.AsyncClient(base_url=f"http://{self.address}") as http:
            response = await http.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 300, response.text
        return response

    async def post(self, person: Professional, child: Child, body: str) -> int:
        data = {"kind": "hunch", "body": body}
        created = await self.call(person, "POST", f"/api/v1/children/{child.id}/posts", json=data)
        return int(created.json()["id"])


async def frames_until(socket: ClientConnection, post_id: int) -> list[str]:
    """Every raw frame up to and including the post.created of `post_id` (sent live after
    the replay, so everything replayed came before it)."""
    frames = []
    while True:
        frames.append(str(await socket.recv()))
        message = json.loads(frames[-1])
        if message["type"] == "post.created" and message["data"].get("id") == post_id:
            return frames


@dataclass
class Story:
    child: Child
    author: Professional
    reader: Professional
    post_id: int
    original: str
    current: str | None  # None: removed


async def _story(api: Api, make: Factory, route: str, change: str) -> Story:
    """A post (plain, mentioning the reader, or acknowledged by the reader), then edited
    or removed by its author."""
    child = await make.child()
    author = await make.practitioner(grants=[child])
    reader = await make.practitioner(grants=[child])
    original = f"ORIGINAL-{uuid.uuid4().hex}"
    mention = f"@{reader.handle} " if route == "mention" else ""
    post_id = await api.post(author, child, f"{mention}{original}")
    if route == "acknowledged":
        await api.call(reader, "POST", f"/api/v1/posts/{post_id}/acknowledge")
    current: str | None = None
    if change == "edit":
        current = f"{mention}now-{uuid.uuid4().hex}"
        body = {"kind": "hunch", "body": current}
        await api.call(author, "PATCH", f"/api/v1/posts/{post_id}", json=body)
    else:
        await api.call(author, "DELETE", f"/api/v1/posts/{post_id}")
    return Story(child, author, reader, post_id, original, current)


async def _replay(api: Api, story: Story) -> dict[str, list[str]]:
    """Raw frames a fresh socket with ?after=0 receives, for the author and the reader."""
    address, frames = api.address, {}
    tokens = {"author": await token_for(story.author), "reader": await token_for(story.reader)}
    async with (
        ws_connect(address, tokens["author"], after=0) as by_author,
        ws_connect(address, tokens["reader"], after=0) as by_reader,
    ):
        for socket in (by_author, by_reader):
            assert (await receive(socket))["type"] == "hello"
        sentinel = await api.post(story.author, story.child, "sentinel")
        frames["author"] = await frames_until(by_author, sentinel)
        frames["reader"] = await frames_until(by_reader, sentinel)
    return frames


def _about_the_post(frames: list[str], post_id: int) -> list[dict[str, Any]]:
    messages = [json.loads(frame) for frame in frames]
    return [
        m
        for m in messages
        if m["data"].get("id") == post_id
        or m["data"].get("post_id") == post_id
        or (m["data"].get("post") or {}).get("id") == post_id
    ]


@pytest.mark.parametrize("change", ["edit", "remove"])
@pytest.mark.parametrize("route", ["post", "mention", "acknowledged"])
async def test_replay_shows_only_current_text_and_removed_stays_removed(
    live: str, route: str, change: str
) -> None:
    api = Api(live)
    story = await _story(api, Factory(), route, change)
    frames = await _replay(api, story)
    for who, received in frames.items():
        assert not [f for f in received if story.original in f], who  # anywhere, any frame
        about = _about_the_post(received, story.post_id)
        assert about, who  # the post's events were replayed, rendered from its id
        posts = [m["data"] for m in about if m["type"] in ("post.created", "post.edited")]
        notes = [m["data"]["post"] for m in about if m["type"] in ("mention", "notification")]
        if story.current is None:
            assert posts == [], who  # replayed as removed: no text, no card to show
            assert about[0]["type"] == about[-1]["type"] == "post.removed", who
            assert about[-1]["data"] == {"post_id": story.post_id}, who
            assert all(note["body"] == "" for note in notes)
        else:
            assert posts and all(p["body"] == story.current for p in posts), who
            assert all(note["body"] == story.current for note in notes)
    inbox = {
        "mention": ("reader", "mention"),
        "acknowledged": ("author", "notification"),
    }.get(route)
    if inbox is not None:  # the notification itself still arrives, rendered now
        who, type_ = inbox
        assert [m for m in _about_the_post(frames[who], story.post_id) if m["type"] == type_]


async def test_events_written_before_the_rule_replay_from_ids_not_stored_bodies(
    live: str,
) -> None:
    """Old databases hold whole posts in event payloads: replay ignores them."""
    api, make = Api(live), Factory()
    child = await make.child()
    author = await make.practitioner(grants=[child])
    await api.post(author, child, "kept as it is now")
    gone = await api.post(author, child, "removed since")
    await api.call(author, "DELETE", f"/api/v1/posts/{gone}")
    stale = f"STALE-{uuid.uuid4().hex}"
    rewritten = 0
    for event in await Event.filter(type=events.POST_CREATED):  # as the old code wrote them
        event.payload = {"id": event.payload["post_id"], "child_id": child.id, "body": stale}
        await event.save(update_fields=["payload"])
        rewritten += 1
    assert rewritten == 2
    async with ws_connect(live, await token_for(author), after=0) as socket:
        await receive(socket)
        sentinel = await api.post(author, child, "sentinel")
        received = await frames_until(socket, sentinel)
    assert not [f for f in received if stale in f]
    created = [json.loads(f) for f in received if '"post.created"' in f]
    assert [m["data"]["body"] for m in created] == ["kept as it is now", "sentinel"]
    removed = [json.loads(f)["data"] for f in received if '"post.removed"' in f]
    assert removed == [{"post_id": gone}, {"post_id": gone}]  # its creation, its removal


async def _queries(monkeypatch: pytest.MonkeyPatch, work: Any) -> int:
    from tortoise import connections

    connection = connections.get("default")
    calls, counting = 0, asyncio.current_task()
    for name in ("execute_query", "execute_query_dict"):
        original = getattr(connection, name)

        async def counted(*args: Any, _original: Any = original) -> Any:
            nonlocal calls
            # Only this task's queries: background loops share the connection.
            calls += asyncio.current_task() is counting
            return await _original(*args)

        monkeypatch.setattr(connection, name, counted)
    await work()
    monkeypatch.undo()
    return calls


async def _hub_pump_queries(
    make: Factory, monkeypatch: pytest.MonkeyPatch, settings: Settings, posts: int, sockets: int
) -> tuple[int, list[Subscriber]]:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    hub = Hub(settings.database_url)
    latest = await Event.all().order_by("-id").first()
    hub.position = latest.id if latest else 0
    for n in range(posts):
        post = await Post.create(child=child, author=author, kind=PostKind.UPDATE, body=f"p{n}")
        await events.emit(events.POST_CREATED, {"post_id": post.id}, child_id=child.id)
    subscribers = [Subscriber(author.id, visible={child.id}) for _ in range(sockets)]
    for subscriber in subscribers:
        hub.subscribe(subscriber)
    return await _queries(monkeypatch, hub.pump), subscribers


async def test_fan_out_renders_a_batch_once_whatever_the_events_and_sockets(
    app: Any, make: Factory, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    few, _ = await _hub_pump_queries(make, monkeypatch, settings, posts=2, sockets=1)
    many, subscribers = await _hub_pump_queries(make, monkeypatch, settings, posts=30, sockets=40)
    assert 0 < few == many <= 4
    assert all(len(s.backlog) == 30 for s in subscribers)  # no socket attached: all waiting
    first = json.loads(subscribers[0].backlog[0][1])
    assert first["type"] == "post.created" and first["data"]["body"] == "p0"


async def test_rendering_reads_the_database_not_the_payload(app: Any, make: Factory) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    post = await Post.create(child=child, author=author, kind=PostKind.HUNCH, body="now")
    old = await Event.create(
        type=events.POST_EDITED, child_id=child.id, payload={"id": post.id, "body": "then"}
    )
    [message] = await event_views.render([old])
    assert message["data"]["body"] == "now" and message["type"] == "post.edited"


# --- 3. one answer for hidden and missing -----------------------------------------------


@dataclass
class Hidden:
    """Things on a child the prober may not see; the prober sees a child of its own."""

    child: Child
    post: int
    removed_post: int
    grant: int
    email: str  # a real account's address


async def _hidden(make: Factory) -> Hidden:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    live_post = await Post.create(child=child, author=author, kind=PostKind.HUNCH, body="x")
    removed = await Post.create(
        child=child, author=author, kind=PostKind.HUNCH, body="y", removed_at=utcnow()
    )
    grant = await make.grant(child, professional=await make.professional())
    return Hidden(child, live_post.id, removed.id, grant.id, author.email)


# (method, path, hidden target, json body, form body): {id} is the hidden or missing id.
PROBES = [
    ("POST", "/api/v1/children/{id}/posts", "child", {"kind": "update", "body": "hi"}, None),
    ("POST", "/children/{id}/posts", "child", None, {"kind": "update", "body": "hi"}),
    ("PATCH", "/api/v1/posts/{id}", "post", {"kind": "update", "body": "hi"}, None),
    ("DELETE", "/api/v1/posts/{id}", "post", None, None),
    ("DELETE", "/api/v1/posts/{id}", "removed_post", None, None),
    ("POST", "/api/v1/posts/{id}/acknowledge", "post", None, None),
    ("POST", "/api/v1/posts/{id}/acknowledge", "removed_post", None, None),
    ("POST", "/posts/{id}/acknowledge", "post", None, None),
    ("POST", "/posts/{id}/acknowledge", "removed_post", None, None),
    ("DELETE", "/api/v1/grants/{id}", "grant", None, None),
    ("POST", "/grants/{id}/revoke", "grant", None, None),
    ("POST", "/api/v1/children/{id}/grants", "child", {"professional_id": 1}, None),
    ("POST", "/children/{id}/grants", "child", None, {"email": "{email}"}),
    ("GET", "/api/v1/children/{id}", "child", None, None),
]


def _same_page(text: str) -> str:
    """Pages carry a per-response CSRF token; nothing else may differ."""
    return re.sub(r'(csrf-token" content=|name="csrftoken" value=)"[^"]*"', r"\1", text)


async def _ask(
    client: httpx.AsyncClient, token: str, probe: tuple[Any, ...], target: int, email: str
) -> tuple[int, str]:
    method, path, _, body, form = probe
    kwargs: dict[str, Any] = {"headers": {"authorization": f"Bearer {token}"}}
    if body is not None:
        kwargs["json"] = body
    if form is not None:
        kwargs["data"] = {k: v.format(email=email) for k, v in form.items()}
    response = await client.request(method, path.format(id=target), **kwargs)
    return response.status_code, _same_page(response.text)


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.MANAGER])
@pytest.mark.parametrize("probe", PROBES, ids=lambda p: f"{p[0]} {p[1]} {p[2]}")
async def test_hidden_and_missing_get_the_same_answer(
    client: httpx.AsyncClient, make: Factory, probe: tuple[Any, ...], role: Role
) -> None:
    hidden = await _hidden(make)
    own = await make.child()
    prober = await make.practitioner(grants=[own], role=role)
    token = await token_for(prober)
    target = {"child": hidden.child.id, "post": hidden.post, "removed_post": hidden.removed_post}
    target["grant"] = hidden.grant
    seen = await _ask(client, token, probe, target[probe[2]], hidden.email)
    absent = await _ask(client, token, probe, MISSING, "nobody@example.test")
    assert seen[0] == 404
    assert seen == absent
    assert hidden.child.display_name not in seen[1]


# --- 4. permission before any email lookup -----------------------------------------------


async def _granting_world(make: Factory) -> tuple[Child, dict[str, Professional]]:
    lead = await make.practitioner()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    glass_manager = await make.professional(role=Role.MANAGER)
    now = utcnow()
    await BreakGlass.create(
        child=child,
        professional=glass_manager,
        reason="probe",
        started_at=now,
        expires_at=now + timedelta(hours=4),
    )
    people = {
        "lead": lead,
        "granted": await make.practitioner(grants=[child]),
        "glass_manager": glass_manager,
        "hidden": await make.practitioner(),
    }
    return child, people


@pytest.mark.parametrize("actor", ["granted", "glass_manager", "hidden"])
async def test_grant_form_answers_alike_for_real_and_unknown_emails(
    client: httpx.AsyncClient, make: Factory, actor: str
) -> None:
    child, people = await _granting_world(make)
    real = (await make.professional()).email
    headers = {"authorization": f"Bearer {await token_for(people[actor])}"}
    answers = []
    for email in (real, "nobody-here@example.test"):
        response = await client.post(
            f"/children/{child.id}/grants", data={"email": email}, headers=headers
        )
        answers.append((response.status_code, _same_page(response.text)))
    assert answers[0][0] in {403, 404}
    assert answers[0] == answers[1]
    assert "Nobody with that email" not in answers[1][1]


async def test_the_lead_still_grants_by_email_and_hears_of_an_unknown_one(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, people = await _granting_world(make)
    real = await make.professional()
    headers = {"authorization": f"Bearer {await token_for(people['lead'])}"}
    url = f"/children/{child.id}/grants"
    granted = await client.post(url, data={"email": real.email.upper()}, headers=headers)
    unknown = await client.post(url, data={"email": "nobody-here@example.test"}, headers=headers)
    assert granted.status_code == 303
    assert unknown.status_code == 422 and "Nobody with that email address." in unknown.text


# --- 2. break-glass held by a manager: view and post only --------------------------------


async def test_a_manager_on_break_glass_may_post_but_not_remove_or_read_the_audit(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, people = await _granting_world(make)
    glass = {"authorization": f"Bearer {await token_for(people['glass_manager'])}"}
    post = await Post.create(
        child=child, author=people["granted"], kind=PostKind.CONCERN, body="bruise"
    )
    own = await client.post(
        f"/api/v1/children/{child.id}/posts",
        json={"kind": "update", "body": "on my way"},
        headers=glass,
    )
    assert own.status_code == 201
    # View and post, nothing more: not even correcting or removing their own post.
    assert (
        await client.delete(f"/api/v1/posts/{own.json()['id']}", headers=glass)
    ).status_code == 403
    refused = await client.delete(f"/api/v1/posts/{post.id}", headers=glass)
    assert refused.status_code == 403
    assert (await Post.get(id=post.id)).removed_at is None
    assert (
        await client.get(f"/api/v1/children/{child.id}/audit", headers=glass)
    ).status_code == 403
    assert (await client.get(f"/children/{child.id}/audit", headers=glass)).status_code == 403
