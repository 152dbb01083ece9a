"""Issue 14, bad input: what a security probe sent and the server mishandled.

Bodies were read whole before any size check (and before login); deeply nested JSON, a
lone surrogate or a NUL byte in text, and a date at the end of the calendar answered 500.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from feeds.models import Child, Professional
from server.auth import issue_token
from server.body_limit import MAX_BODY_BYTES
from tests.conftest import PASSWORD, Factory

CHUNK = 16 * 1024
ORIGIN = {"origin": "http://testserver"}


class Body:
    """A chunked request body far over the limit that counts the chunks it handed out."""

    def __init__(self, chunk: bytes, chunks: int = 200) -> None:
        self.chunk, self.chunks, self.yielded = chunk, chunks, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.yielded += 1
            yield self.chunk


def hidden(page: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name} field in the page"
    return html.unescape(match.group(1))


async def page_login(client: httpx.AsyncClient, person: Professional) -> str:
    """Log in through the form; returns the CSRF token for later forms."""
    csrf = hidden((await client.get("/login")).text, "csrftoken")
    data = {"csrftoken": csrf, "email": person.email, "password": PASSWORD, "next": "/"}
    response = await client.post("/login", data=data, headers=ORIGIN)
    assert response.status_code == 303, response.text
    return hidden((await client.get("/")).text, "csrftoken")


@pytest.fixture
async def child(make: Factory) -> Child:
    return await make.child()


@pytest.fixture
async def author(make: Factory, child: Child) -> Professional:
    return await make.practitioner(grants=[child])


async def _send_big(
    client: httpx.AsyncClient, route: str, child: Child, author: Professional, body: Body
) -> httpx.Response:
    json_type = {"content-type": "application/json"}
    form_type = {"content-type": "application/x-www-form-urlencoded", **ORIGIN}
    if route == "api login":
        return await client.post("/api/v1/auth/login", content=body, headers=json_type)
    if route == "api post":
        bearer = (await issue_token(author, "big"))[1]
        headers = {**json_type, "authorization": f"Bearer {bearer}"}
        return await client.post(
            f"/api/v1/children/{child.id}/posts", content=body, headers=headers
        )
    if route == "form login":
        await client.get("/login")  # the CSRF cookie: asgi-csrf then reads the form body
        return await client.post("/login", content=body, headers=form_type)
    await page_login(client, author)
    return await client.post(f"/children/{child.id}/posts", content=body, headers=form_type)


ROUTES = ["api login", "api post", "form login", "form post"]


@pytest.mark.parametrize("route", ROUTES)
async def test_a_chunked_body_over_the_limit_is_refused_while_streaming(
    client: httpx.AsyncClient, child: Child, author: Professional, route: str
) -> None:
    body = Body(b"x" * CHUNK)
    response = await _send_big(client, route, child, author, body)
    assert response.status_code == 413, response.text
    assert "too large" in response.json()["error"]["message"]
    assert body.yielded <= MAX_BODY_BYTES // CHUNK + 1, body.yielded


@pytest.mark.parametrize("route", ROUTES)
async def test_a_lying_content_length_does_not_get_a_big_body_in(
    client: httpx.AsyncClient, child: Child, author: Professional, route: str
) -> None:
    body = Body(b"x" * CHUNK)
    client.headers["content-length"] = "20"
    response = await _send_big(client, route, child, author, body)
    assert response.status_code == 413, response.text
    assert body.yielded <= MAX_BODY_BYTES // CHUNK + 1, body.yielded


async def test_a_declared_length_over_the_limit_is_refused_unread(
    client: httpx.AsyncClient,
) -> None:
    body = Body(b"x" * CHUNK)
    headers = {"content-type": "application/json", "content-length": str(200 * CHUNK)}
    response = await client.post("/api/v1/auth/login", content=body, headers=headers)
    assert response.status_code == 413
    assert body.yielded == 0
    assert response.headers["x-content-type-options"] == "nosniff"  # headers on errors too


async def test_a_body_just_under_the_limit_still_reaches_the_route(
    client: httpx.AsyncClient,
) -> None:
    padding = "p" * (MAX_BODY_BYTES - 100)
    response = await client.post(
        "/api/v1/auth/login", json={"email": "a@b.c", "password": "x", "pad": padding}
    )
    assert response.status_code == 401, response.text


# --- odd JSON ---------------------------------------------------------------------------

NESTED = b"[" * 20_000 + b"]" * 20_000  # about 40 KB
NESTED_IN_FIELD = b'{"email": ' + NESTED + b', "password": "p"}'


@pytest.mark.parametrize("content", [NESTED, NESTED_IN_FIELD], ids=["bare", "in a field"])
@pytest.mark.parametrize("target", ["login", "post"])
async def test_deeply_nested_json_is_a_422(
    client: httpx.AsyncClient, child: Child, author: Professional, content: bytes, target: str
) -> None:
    headers = {"content-type": "application/json"}
    path = "/api/v1/auth/login"
    if target == "post":
        headers["authorization"] = f"Bearer {(await issue_token(author, 'n'))[1]}"
        path = f"/api/v1/children/{child.id}/posts"
    response = await client.post(path, content=content, headers=headers)
    assert response.status_code == 422, response.text
    assert "nested too deeply" in response.json()["error"]["message"]


ODD_TEXT = [
    (b'{"email": "\\ud800@x.y", "password": "p"}', "login"),
    (b'{"email": "a\\u0000@x.y", "password": "p"}', "login"),
    (b'{"email": "a@x.y", "password": "p\\udfff"}', "login"),
    (b'{"kind": "update", "body": "half a pair \\ud83d"}', "post"),
    (b'{"kind": "update", "body": "nul \\u0000 byte"}', "post"),
    (b'{"kind": "update\\u0000", "body": "x"}', "post"),
]


@pytest.mark.parametrize(("content", "target"), ODD_TEXT)
async def test_lone_surrogates_and_nul_bytes_in_json_are_a_422(
    client: httpx.AsyncClient, child: Child, author: Professional, content: bytes, target: str
) -> None:
    headers = {"content-type": "application/json"}
    path = "/api/v1/auth/login"
    if target == "post":
        headers["authorization"] = f"Bearer {(await issue_token(author, 'n'))[1]}"
        path = f"/api/v1/children/{child.id}/posts"
    response = await client.post(path, content=content, headers=headers)
    assert response.status_code == 422, response.text
    assert "character that is not allowed" in response.json()["error"]["message"]


# --- odd form fields and query parameters -----------------------------------------------


async def test_nul_bytes_in_the_login_form_are_refused(client: httpx.AsyncClient) -> None:
    csrf = hidden((await client.get("/login")).text, "csrftoken")
    data = {"csrftoken": csrf, "email": "a\x00@x.y", "password": "p"}
    response = await client.post("/login", data=data, headers=ORIGIN)
    assert response.status_code == 422, response.text
    assert "character that is not allowed" in response.text


async def test_nul_bytes_in_a_posted_form_are_refused(
    client: httpx.AsyncClient, child: Child, author: Professional
) -> None:
    csrf = await page_login(client, author)
    data = {"csrftoken": csrf, "kind": "update", "body": "a\x00b"}
    response = await client.post(f"/children/{child.id}/posts", data=data, headers=ORIGIN)
    assert response.status_code == 422, response.text
    assert "character that is not allowed" in response.text


async def test_a_form_body_that_is_not_utf8_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/login")  # the CSRF cookie: asgi-csrf decodes the body itself
    headers = {"content-type": "application/x-www-form-urlencoded", **ORIGIN}
    response = await client.post("/login", content=b"email=\xff\xfe&password=x", headers=headers)
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/search?q=a%00b",
        "/search?q=a%00b",
        "/api/v1/search?q=x&kind=update%00",
        "/login?next=/%00",
        "/admin/audit?action=login%00",
    ],
)
async def test_nul_bytes_in_query_parameters_are_a_4xx(
    client: httpx.AsyncClient, author: Professional, path: str
) -> None:
    client.headers["authorization"] = f"Bearer {(await issue_token(author, 'q'))[1]}"
    response = await client.get(path)
    assert 400 <= response.status_code < 500, response.text
    assert "character that is not allowed" in response.text


# --- dates at the edge of the calendar -------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["until=9999-12-31", "since=9999-12-31", "since=0001-01-01", "until=9999-12-31T23:59:59-05:00"],
)
@pytest.mark.parametrize("path", ["/api/v1/search", "/search"])
async def test_search_dates_at_the_edge_of_the_calendar_are_a_422(
    client: httpx.AsyncClient, author: Professional, path: str, query: str
) -> None:
    client.headers["authorization"] = f"Bearer {(await issue_token(author, 'd'))[1]}"
    response = await client.get(f"{path}?q=x&{query}")
    assert response.status_code == 422, response.text
    assert "must be a date" in response.text


@pytest.mark.parametrize(
    "expires_at", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "10000-01-01"]
)
async def test_grant_expiry_at_the_edge_of_the_calendar_is_a_422(
    client: httpx.AsyncClient, make: Factory, child: Child, expires_at: str
) -> None:
    lead = await make.practitioner(grants=[child])
    child.lead_professional = lead
    await child.save()
    other = await make.professional()
    headers = {"authorization": f"Bearer {(await issue_token(lead, 'g'))[1]}"}
    body: dict[str, Any] = {"professional_id": other.id, "expires_at": expires_at}
    response = await client.post(f"/api/v1/children/{child.id}/grants", json=body, headers=headers)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "path",
    ["/api/v1/search?q=abc%ED%A0%80", "/search?q=x%ED%B0%80y", "/login?next=%ED%A0%80"],
)
async def test_surrogates_spelt_in_utf8_query_parameters_are_harmless(
    client: httpx.AsyncClient, author: Professional, path: str
) -> None:
    """UTF-8 cannot carry a lone surrogate: its bytes decode to U+FFFD, which is storable."""
    client.headers["authorization"] = f"Bearer {(await issue_token(author, 'q'))[1]}"
    response = await client.get(path)
    assert response.status_code == 200, response.text


async def test_surrogates_spelt_in_utf8_form_fields_are_harmless(
    client: httpx.AsyncClient, child: Child, author: Professional
) -> None:
    csrf = await page_login(client, author)
    body = f"csrftoken={csrf}&kind=update&body=half%ED%A0%80pair".encode()
    headers = {"content-type": "application/x-www-form-urlencoded", **ORIGIN}
    response = await client.post(f"/children/{child.id}/posts", content=body, headers=headers)
    assert response.status_code == 303, response.text
