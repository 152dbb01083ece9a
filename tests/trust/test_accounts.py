"""Password change (the lockout itself is in test_sign_in_throttle.py)."""

from __future__ import annotations

import httpx

from feeds.models import Professional
from server.auth import issue_token
from tests.conftest import PASSWORD, Factory

NEW_PASSWORD = "a much longer new passphrase"


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_password_change_needs_the_old_password_and_ends_every_session(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    assert (await login(client, person.email, PASSWORD)).status_code == 200
    token = {"authorization": f"Bearer {(await issue_token(person, 't'))[1]}"}
    path = "/api/v1/auth/password"
    wrong = await client.post(
        path, json={"old_password": "not it", "new_password": NEW_PASSWORD}, headers=token
    )
    assert wrong.status_code == 422
    short = await client.post(
        path, json={"old_password": PASSWORD, "new_password": "short"}, headers=token
    )
    assert short.status_code == 422
    changed = await client.post(
        path, json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=token
    )
    assert changed.status_code == 200 and changed.json()["sessions_ended"] == 1
    client.cookies.clear()
    assert (await login(client, person.email, PASSWORD)).status_code == 401
    assert (await login(client, person.email, NEW_PASSWORD)).status_code == 200
    refreshed = await Professional.get(id=person.id)
    assert refreshed.failed_logins == 0
