"""Login, sessions, logout and personal access tokens through the JSON API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from starlette.applications import Starlette

from feeds.accounts.throttle import FREE_FAILURES
from feeds.clock import utcnow
from feeds.models import AuditRecord, Session
from server.auth import digest
from tests.conftest import PASSWORD, Factory, api_login, client_for


async def test_login_sets_a_httponly_lax_session_cookie(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    response = await client.post(
        "/api/v1/auth/login", json={"email": person.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["me"]["email"] == person.email
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("jigsaw_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = await client.get("/api/v1/me")
    assert me.json()["id"] == person.id


async def test_unknown_email_and_wrong_password_get_the_same_401(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": person.email, "password": "nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.test", "password": "nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["message"] == "Email or password is not right."


async def test_every_login_attempt_is_audited(client: httpx.AsyncClient, make: Factory) -> None:
    person = await make.professional()
    await client.post("/api/v1/auth/login", json={"email": person.email, "password": "nope"})
    await api_login(client, person.email)
    outcomes: list[Any] = (
        await AuditRecord.filter(action="login").order_by("id").values_list("outcome", flat=True)
    )
    assert list(outcomes) == ["failed", "ok"]


async def test_repeated_failures_throttle_the_account_with_429(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    for _ in range(FREE_FAILURES):
        await client.post("/api/v1/auth/login", json={"email": person.email, "password": "x"})
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": person.email, "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert "wait" in blocked.json()["error"]["message"]
    assert int(blocked.headers["retry-after"]) > 0


async def test_each_login_gets_a_new_session_id(app: Starlette, make: Factory) -> None:
    person = await make.professional()
    ids = set()
    for _ in range(2):
        async with client_for(app) as c:
            await api_login(c, person.email)
            ids.add(c.cookies["jigsaw_session"])
    assert len(ids) == 2
    assert await Session.filter(professional_id=person.id).count() == 2


async def test_logout_revokes_the_session_server_side(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    await api_login(client, person.email)
    raw = client.cookies["jigsaw_session"]
    assert (await client.post("/api/v1/auth/logout")).status_code == 204
    client.cookies.set("jigsaw_session", raw)  # a stolen copy of the old cookie
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_logout_everywhere_ends_every_session(app: Starlette, make: Factory) -> None:
    person = await make.professional()
    async with client_for(app) as phone, client_for(app) as laptop:
        await api_login(phone, person.email)
        await api_login(laptop, person.email)
        ended = await laptop.post("/api/v1/auth/logout-everywhere")
        assert ended.json() == {"sessions_ended": 2}
        assert (await phone.get("/api/v1/me")).status_code == 401


async def test_idle_and_absolute_timeouts_end_a_session(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    await api_login(client, person.email)
    session_id = digest(client.cookies["jigsaw_session"])
    await Session.filter(id=session_id).update(last_seen_at=utcnow() - timedelta(hours=1))
    assert (await client.get("/api/v1/me")).status_code == 401
    await Session.filter(id=session_id).update(
        last_seen_at=utcnow(), expires_at=utcnow() - timedelta(seconds=1)
    )
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_deactivated_professional_loses_access_at_once(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    await api_login(client, person.email)
    person.is_active = False
    await person.save()
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_cookie_session_needs_csrf_token_for_unsafe_calls(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    await api_login(client, person.email)
    del client.headers["x-csrftoken"]
    refused = await client.post(
        f"/api/v1/children/{child.id}/posts", json={"kind": "update", "body": "hello"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf"


async def test_cross_site_origin_is_refused_even_with_a_token(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    await api_login(client, person.email)
    response = await client.post(
        f"/api/v1/children/{child.id}/posts",
        json={"kind": "update", "body": "hello"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403


async def test_token_lifecycle_issue_use_list_revoke(
    client: httpx.AsyncClient, app: Starlette, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    issued = await client.post(
        "/api/v1/auth/tokens",
        json={"email": person.email, "password": PASSWORD, "name": "my phone"},
    )
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("jgw_")
    async with client_for(app) as phone:
        phone.headers["authorization"] = f"Bearer {token}"
        # No CSRF token needed with a bearer token.
        posted = await phone.post(
            f"/api/v1/children/{child.id}/posts",
            json={"kind": "visit", "body": "home visit, all well"},
        )
        assert posted.status_code == 201
        listed = (await phone.get("/api/v1/auth/tokens")).json()["tokens"]
        assert [t["name"] for t in listed] == ["my phone"]
        assert "token" not in listed[0] and "token_hash" not in listed[0]
        revoked = await phone.delete(f"/api/v1/auth/tokens/{listed[0]['id']}")
        assert revoked.status_code == 204
        assert (await phone.get("/api/v1/me")).status_code == 401


async def test_token_with_wrong_password_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    response = await client.post(
        "/api/v1/auth/tokens", json={"email": person.email, "password": "x", "name": "p"}
    )
    assert response.status_code == 401


async def test_someone_elses_token_cannot_be_revoked(
    client: httpx.AsyncClient, make: Factory
) -> None:
    owner = await make.professional()
    other = await make.professional()
    issued = await client.post(
        "/api/v1/auth/tokens", json={"email": owner.email, "password": PASSWORD, "name": "a"}
    )
    await api_login(client, other.email)
    response = await client.delete(f"/api/v1/auth/tokens/{issued.json()['id']}")
    assert response.status_code == 404


async def test_bearer_header_wins_over_a_session_cookie(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    await api_login(client, person.email)
    response = await client.get("/api/v1/me", headers={"authorization": "Bearer jgw_bogus"})
    assert response.status_code == 401


async def test_login_rehashes_a_password_hashed_with_old_parameters(
    client: httpx.AsyncClient, make: Factory
) -> None:
    from argon2 import PasswordHasher

    from feeds.models import Professional

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    person = await make.professional(password_hash=weak)
    await api_login(client, person.email)
    stored = (await Professional.get(id=person.id)).password_hash
    assert stored != weak and stored.startswith("$argon2id$")
    assert "m=8192" not in stored
