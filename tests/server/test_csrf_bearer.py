"""Bearer API calls skip asgi-csrf (it would let them through anyway); everything that
rides on cookies is checked exactly as before (server/middleware.py csrf_middleware)."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from tests.conftest import PASSWORD, Factory, api_login, client_for


async def _token(client: httpx.AsyncClient, email: str) -> str:
    issued = await client.post(
        "/api/v1/auth/tokens", json={"email": email, "password": PASSWORD, "name": "phone"}
    )
    assert issued.status_code == 201
    return str(issued.json()["token"])


async def test_a_bearer_api_call_needs_no_csrf_token_and_gets_no_csrf_cookie(
    client: httpx.AsyncClient, app: Starlette, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    token = await _token(client, person.email)
    async with client_for(app) as phone:
        phone.headers["authorization"] = f"Bearer {token}"
        for response in (
            await phone.post(
                f"/api/v1/children/{child.id}/posts", json={"kind": "update", "body": "all calm"}
            ),
            await phone.get(f"/api/v1/children/{child.id}/posts"),
        ):
            assert response.status_code < 300, response.text
            assert "csrftoken" not in response.headers.get("set-cookie", "")


async def test_a_cookie_session_still_needs_its_token_whatever_else_it_sends(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    await api_login(client, person.email)
    del client.headers["x-csrftoken"]
    # A scheme asgi-csrf does not take as a bearer token leaves the cookie check on.
    for authorization in ("bearer jgw_x", "Basic eDp5", "Token jgw_x"):
        refused = await client.post(
            f"/api/v1/children/{child.id}/posts",
            json={"kind": "update", "body": "hello"},
            headers={"authorization": authorization},
        )
        assert refused.status_code == 403, authorization
        assert refused.json()["error"]["code"] == "csrf"


async def test_sign_in_hands_out_a_csrf_token_even_beside_a_bearer_header(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": person.email, "password": PASSWORD},
        headers={"authorization": "Bearer jgw_stale"},
    )
    assert response.status_code == 200
    assert response.json()["csrf_token"]
    assert "csrftoken=" in response.headers.get("set-cookie", "")
