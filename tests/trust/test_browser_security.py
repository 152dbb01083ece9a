"""Browser-facing defences, checked over the whole route table (TRUST "Browser"):

- every response, errors included, carries the security headers (CSP with object-src,
  base-uri and frame-ancestors 'none' and no inline script; nosniff; Referrer-Policy;
  no-store), and HSTS over https;
- the session cookie is HttpOnly, SameSite=Lax, and over https Secure and __Host-;
- every unsafe route refuses a cookie-authenticated request without the CSRF token, or
  from another site (Origin or Sec-Fetch-Site), and changes nothing;
- GET never writes.

Websocket origin checks are in test_websocket_security.py.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route
from tortoise.models import Model

from feeds.clock import utcnow
from feeds.models import (
    Acknowledgement,
    ApiToken,
    BreakGlass,
    Child,
    Follow,
    Grant,
    Notification,
    Post,
    PostKind,
    PostRevision,
    Professional,
    Role,
    Team,
    TeamMember,
)
from server.app import create_app
from server.auth import issue_token
from server.settings import Settings
from tests import db_backends
from tests.conftest import PASSWORD, Factory, api_login, client_for

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
STATE = (
    Post,
    PostRevision,
    Grant,
    Follow,
    Acknowledgement,
    Notification,
    BreakGlass,
    Child,
    Team,
    TeamMember,
    ApiToken,
)


def route_calls(app: Starlette, ids: dict[str, int]) -> list[tuple[str, str]]:
    """(method, concrete path) for every route, path parameters filled from `ids`."""
    calls = []
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        path = re.sub(r"{(\w+)(?::\w+)?}", lambda m: str(ids.get(m.group(1), 1)), route.path)
        calls += [(method, path) for method in sorted((route.methods or set()) - {"HEAD"})]
    return calls


def header_problems(response: httpx.Response) -> list[str]:
    """What is missing from one response's security headers."""
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    directives = {
        name: value
        for name, _, value in (part.strip().partition(" ") for part in csp.split(";"))
        if name
    }
    problems = [
        f"{name} {directives.get(name)!r}"
        for name in ("object-src", "base-uri", "frame-ancestors")
        if directives.get(name) != "'none'"
    ]
    script = directives.get("script-src", directives.get("default-src", ""))
    if not script or "'unsafe-inline'" in script or "'unsafe-eval'" in script:
        problems.append(f"script-src {script!r}")
    if headers.get("x-content-type-options") != "nosniff":
        problems.append("nosniff")
    if headers.get("referrer-policy") not in {"same-origin", "no-referrer", "strict-origin"}:
        problems.append(f"referrer-policy {headers.get('referrer-policy')!r}")
    if headers.get("x-frame-options") != "DENY":
        problems.append("x-frame-options")
    cache = headers.get("cache-control", "")
    if response.request.url.path == "/sw.js":
        ok = cache in {"no-cache", "no-store"}  # the service worker must be revalidated
    else:
        ok = cache == "no-store"
    if not ok:
        problems.append(f"cache-control {cache!r}")
    return problems


async def seeded_ids(make: Factory) -> tuple[Professional, dict[str, int]]:
    """A lead with a child, a post, a grant, a notification; the ids routes take."""
    lead = await make.professional(role=Role.MANAGER)
    child = await make.child(lead=lead)
    grant = await make.grant(child, professional=lead)
    other = await make.practitioner(grants=[child])
    post = await Post.create(child=child, author=other, kind=PostKind.HUNCH, body="seen")
    note = await Notification.create(recipient=lead, kind="mention", child=child, post=post)
    token = (await issue_token(lead, "walk"))[0]
    glass = await BreakGlass.create(
        child=child, professional=other, reason="walk", started_at=utcnow(), expires_at=utcnow()
    )
    ids = {
        "child_id": child.id,
        "grant_id": grant.id,
        "post_id": post.id,
        "notification_id": note.id,
        "token_id": token.id,
        "break_glass_id": glass.id,
        "professional_id": other.id,
    }
    return lead, ids


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables a user's action can change (not audit, sessions, events)."""
    return {model.__name__: await _rows(model) for model in STATE}


async def _rows(model: type[Model]) -> list[dict[str, Any]]:
    return await model.all().order_by("id").values()


async def odd_requests(client: httpx.AsyncClient, ids: dict[str, int]) -> list[httpx.Response]:
    """Errors from every layer: router, endpoint helpers, middleware, CSRF, static files."""
    odd: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/no/such/page", {}),
        ("GET", "/api/v1/no/such/thing", {}),
        ("PUT", "/api/v1/children", {}),  # 405
        ("GET", "/children/abc", {}),
        ("GET", "/api/v1/children/99999999999", {}),
        ("GET", "/api/v1/search?q=a", {}),  # 422
        ("POST", f"/api/v1/children/{ids['child_id']}/posts", {"content": b"{not json"}),
        ("POST", "/api/v1/auth/tokens", {"files": {"f": b"x"}}),  # multipart: 415
        ("POST", "/api/v1/children/1/posts", {"headers": {"origin": "https://evil.example"}}),
        ("GET", "/static/css/app.css", {}),
    ]
    responses = [await client.request(method, path, **kw) for method, path, kw in odd]
    token = client.headers.pop("x-csrftoken")
    responses.append(await client.post("/api/v1/auth/logout"))  # 403 csrf
    client.headers["x-csrftoken"] = token
    return responses


# --- headers --------------------------------------------------------------------------


async def test_every_response_carries_the_security_headers(
    app: Starlette, client: httpx.AsyncClient, make: Factory
) -> None:
    lead, ids = await seeded_ids(make)
    responses = []
    for method, path in route_calls(app, ids):  # anonymous: 401s, 303s, 403s, 422s
        responses.append(await client.request(method, path))
    async with client_for(app) as user:  # a fresh cookie jar for the logged-in half
        await api_login(user, lead.email)
        for method, path in route_calls(app, ids):
            if method == "GET":
                responses.append(await user.get(path))
        responses += await odd_requests(user, ids)
    statuses = {r.status_code for r in responses}
    assert {200, 303, 401, 403, 404, 405, 415, 422} <= statuses, statuses
    problems = [
        f"{r.request.method} {r.request.url.path} {r.status_code}: {p}"
        for r in responses
        if (p := header_problems(r))
    ]
    assert problems == []


@contextlib.asynccontextmanager
async def https_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app as deployed behind TLS (JIGSAW_HTTPS=true), with a client on https."""
    if not settings.is_sqlite:
        await db_backends.truncate_postgres(settings.database_url)
    app = create_app(replace(settings, https=True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield c


def set_cookies(response: httpx.Response, name: str) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]


async def test_over_https_cookies_are_secure_host_only_and_hsts_is_sent(
    settings: Settings,
) -> None:
    async with https_app(settings) as client:
        person = await Factory().practitioner()
        login_page = await client.get("/login")
        assert login_page.headers["strict-transport-security"].startswith("max-age=31536000")
        [csrf] = set_cookies(login_page, "csrftoken")
        assert "Secure" in csrf and "samesite=lax" in csrf.lower()
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": person.email, "password": PASSWORD},
            headers={"x-csrftoken": client.cookies["csrftoken"]},
        )
        assert login.status_code == 200, login.text
        [session] = set_cookies(login, "__Host-jigsaw_session")
        attributes = {a.strip().split("=")[0].lower() for a in session.split(";")[1:]}
        assert {"httponly", "secure", "path", "samesite"} <= attributes
        assert "domain" not in attributes  # __Host- cookies must not name a domain
        assert "path=/" in session.lower() and "samesite=lax" in session.lower()
        assert not set_cookies(login, "jigsaw_session")
        assert login.headers["strict-transport-security"].startswith("max-age=31536000")
        client.headers["x-csrftoken"] = login.json()["csrf_token"]
        logout = await client.post("/api/v1/auth/logout")
        assert logout.status_code in {200, 204}, logout.text
        [cleared] = set_cookies(logout, "__Host-jigsaw_session")
        assert "Secure" in cleared and ("Max-Age=0" in cleared or "expires=" in cleared.lower())


async def test_over_plain_http_there_is_no_hsts(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert "strict-transport-security" not in response.headers
    assert header_problems(response) == []


# --- CSRF and same-origin on every unsafe route ----------------------------------------


async def test_every_unsafe_route_refuses_a_request_without_token_or_from_another_site(
    app: Starlette, client: httpx.AsyncClient, make: Factory
) -> None:
    lead, ids = await seeded_ids(make)
    await api_login(client, lead.email)
    token = client.headers.pop("x-csrftoken")
    before = await snapshot()
    unsafe = [(m, p) for m, p in route_calls(app, ids) if m in UNSAFE]
    assert len(unsafe) >= 30
    wrong = []
    for method, path in unsafe:
        api = path.startswith("/api/")  # the API takes JSON, the pages take forms
        json_body: dict[str, str] | None = {} if api else None
        form: dict[str, str] | None = None if api else {"x": "1"}
        attempts = {
            "no token": ({}, "csrf"),
            "foreign Origin": ({"x-csrftoken": token, "origin": "https://evil.example"}, None),
            "cross-site fetch": ({"x-csrftoken": token, "sec-fetch-site": "cross-site"}, None),
        }
        for name, (headers, code) in attempts.items():
            response = await client.request(
                method, path, headers=headers, json=json_body, data=form
            )
            got = response.json()["error"]["code"] if response.status_code == 403 else None
            if response.status_code != 403 or got != (code or "cross_origin"):
                wrong.append(f"{method} {path} ({name}): {response.status_code} {got}")
    assert wrong == []
    assert await snapshot() == before
    # Nothing was done on the user's behalf: not even logging them out.
    assert (await client.get("/api/v1/me")).status_code == 200


async def test_a_form_with_the_token_from_the_same_site_is_accepted(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """The control for the test above: the same cookie session, with token and Origin."""
    lead, ids = await seeded_ids(make)
    await api_login(client, lead.email)
    token = client.headers.pop("x-csrftoken")
    followed = await client.post(
        f"/children/{ids['child_id']}/follow",
        data={"csrftoken": token},
        headers={"origin": "http://testserver"},
    )
    assert followed.status_code == 303
    assert await Follow.filter(child_id=ids["child_id"], professional_id=lead.id).exists()


# --- GET never writes -----------------------------------------------------------------


async def test_no_get_route_changes_anything(
    app: Starlette, client: httpx.AsyncClient, make: Factory
) -> None:
    lead, ids = await seeded_ids(make)
    await api_login(client, lead.email)
    before = await snapshot()
    answered = set()
    for method, path in route_calls(app, ids):
        if method == "GET":
            for query in ("", "?q=seen&status=all&reviewed=false"):
                answered.add((await client.get(path + query)).status_code)
    assert 200 in answered
    assert await snapshot() == before
