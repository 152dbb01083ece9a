"""Bad input anywhere gets a 4xx with a clear JSON message: never a 500 or a traceback."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Message, Scope

from feeds.models import Post
from server.auth import issue_token
from tests.conftest import Factory, api_login

LONG = "x" * 501
# Deeper than Python's recursion limit, well inside the size limit.
DEEP = b'{"kind": "update", "body": "x", "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}"
POSTS = "/api/v1/children/{child}/posts"
GRANTS = "/api/v1/children/{child}/grants"

CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    (
        "POST",
        "/api/v1/auth/login",
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        422,
        "not valid JSON",
    ),
    (
        "POST",
        "/api/v1/auth/login",
        {"content": b"email=a", "headers": {"content-type": "text/plain"}},
        422,
        "Content-Type: application/json",
    ),
    ("POST", "/api/v1/auth/login", {"json": [1, 2]}, 422, "JSON object"),
    ("POST", "/api/v1/auth/login", {"json": {"email": 5, "password": "x"}}, 422, "email"),
    ("POST", "/api/v1/auth/login", {"json": {"email": "a@b.c"}}, 422, "password"),
    (
        "POST",
        "/api/v1/auth/login",
        {"json": {"email": "a" * 300 + "@x", "password": "p"}},
        422,
        "email",
    ),
    ("POST", "/api/v1/auth/tokens", {"json": {"email": "a@b.c", "password": "p"}}, 422, "name"),
    (
        "POST",
        "/api/v1/auth/tokens",
        {"json": {"email": "a@b.c", "password": "p", "name": "n" * 101}},
        422,
        "name",
    ),
    ("POST", POSTS, {"json": {"kind": "gossip", "body": "hi"}}, 422, "kind must be one of"),
    ("POST", POSTS, {"json": {"body": "hi"}}, 422, "kind"),
    ("POST", POSTS, {"json": {"kind": "update", "body": "   "}}, 422, "empty"),
    ("POST", POSTS, {"json": {"kind": "update", "body": LONG}}, 422, "500-character limit"),
    ("POST", POSTS, {"json": {"kind": "update", "body": 42}}, 422, "text"),
    ("POST", POSTS, {"json": {"kind": "update", "body": "x" * 70_000}}, 413, "too large"),
    (
        "POST",
        POSTS,
        {"json": {"kind": "update", "body": "hi"}, "headers": {"idempotency-key": "k" * 200}},
        422,
        "Idempotency-Key",
    ),
    (
        "POST",
        "/api/v1/children/999999/posts",
        {"json": {"kind": "update", "body": "x"}},
        404,
        "No such child",
    ),
    (
        "POST",
        "/api/v1/children/abc/posts",
        {"json": {"kind": "update", "body": "x"}},
        404,
        "No such child",
    ),
    ("GET", "/api/v1/children/99999999999999999999999", {}, 404, "No such child"),
    ("GET", POSTS + "?limit=0", {}, 422, "limit"),
    ("GET", POSTS + "?limit=101", {}, 422, "limit"),
    ("GET", POSTS + "?limit=ten", {}, 422, "limit"),
    ("GET", POSTS + "?before=-3", {}, 422, "before"),
    ("GET", POSTS + "?before=null", {}, 422, "before must be a whole number"),
    ("GET", "/api/v1/search?q=visit&kind=gossip", {}, 422, "kind must be one of"),
    (
        "POST",
        POSTS,
        {"content": DEEP, "headers": {"content-type": "application/json"}},
        422,
        "nested too deeply",
    ),
    (
        "POST",
        POSTS,
        {
            "content": b'{"kind": "update", "body": "\\ud800"}',
            "headers": {"content-type": "application/json"},
        },
        422,
        "character that is not allowed",
    ),
    ("PATCH", "/api/v1/posts/424242", {"json": {"kind": "update", "body": "x"}}, 404, "No such"),
    ("DELETE", "/api/v1/posts/nope", {}, 404, "No such"),
    ("POST", GRANTS, {"json": {}}, 422, "exactly one"),
    ("POST", GRANTS, {"json": {"professional_id": 1, "team_id": 1}}, 422, "exactly one"),
    ("POST", GRANTS, {"json": {"professional_id": "7"}}, 422, "professional_id"),
    ("POST", GRANTS, {"json": {"professional_id": True}}, 422, "professional_id"),
    ("POST", GRANTS, {"json": {"professional_id": 987654}}, 422, "No such active professional"),
    ("POST", GRANTS, {"json": {"team_id": 987654}}, 422, "No such team"),
    (
        "POST",
        GRANTS,
        {"json": {"professional_id": "{other}", "expires_at": "tomorrow"}},
        422,
        "ISO 8601",
    ),
    (
        "POST",
        GRANTS,
        {"json": {"professional_id": "{other}", "expires_at": "2020-01-01T00:00:00+00:00"}},
        422,
        "future",
    ),
    (
        "POST",
        GRANTS,
        {"json": {"professional_id": "{other}", "expires_at": "2099-01-01T00:00:00"}},
        422,
        "time zone",
    ),
    ("DELETE", "/api/v1/grants/31337", {}, 404, "No such grant"),
    ("DELETE", "/api/v1/auth/tokens/abc", {}, 404, "No such token"),
    ("PUT", "/api/v1/me", {}, 405, "not allowed"),
    ("GET", "/api/v1/nothing-here", {}, 404, "Not found"),
    (
        "POST",
        POSTS,
        {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}},
        415,
        "JSON",
    ),
]


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str) and value == "{other}":
        return ids["other"]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "message"),
    CASES,
    ids=[f"{c[0]} {c[1]} {i}" for i, c in enumerate(CASES)],
)
async def test_bad_input_gets_a_clear_4xx(
    client: httpx.AsyncClient,
    make: Factory,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    message: str,
) -> None:
    child = await make.child()
    other = await make.professional()
    manager = await make.manager_of(child)
    await api_login(client, manager.email)
    url = path.format(child=child.id)
    response = await client.request(method, url, **_fill(kwargs, {"other": other.id}))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in error["message"]
    assert "Traceback" not in response.text and "SELECT" not in response.text


async def test_a_client_that_hangs_up_mid_body_is_no_server_error(
    app: Starlette, make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    """Load tests end by dropping connections mid-request: 400, no error logged, no post."""
    child = await make.child()
    author = await make.practitioner(grants=[child])
    _token, raw = await issue_token(author, "hang-up")
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/api/v1/children/{child.id}/posts",
        "raw_path": f"/api/v1/children/{child.id}/posts".encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {raw}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"40"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    with caplog.at_level(logging.ERROR):
        await app(scope, receive, send)

    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert await Post.filter(child_id=child.id).count() == 0
