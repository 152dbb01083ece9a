"""Lockout after repeated failed logins (an administrator unlocks), and password change."""

from __future__ import annotations

import httpx
import pytest

from feeds.accounts.lockout import LOCK_AFTER
from feeds.models import AuditRecord, Professional, Role
from server import auth
from server.auth import issue_token
from tests.conftest import PASSWORD, Factory

NEW_PASSWORD = "a much longer new passphrase"


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_an_account_locks_after_repeated_failures_until_an_admin_unlocks_it(
    client: httpx.AsyncClient, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await make.professional()
    # Lift the per-window throttle so the lock itself is what stops the login.
    monkeypatch.setattr(auth, "MAX_FAILURES_PER_ACCOUNT", 10_000)
    monkeypatch.setattr(auth, "MAX_FAILURES_PER_ADDRESS", 10_000)
    for _ in range(LOCK_AFTER):
        assert (await login(client, person.email, "wrong password")).status_code == 401
    locked = await login(client, person.email, PASSWORD)
    unknown = await login(client, "nobody@example.test", PASSWORD)
    assert locked.status_code == 429 and "administrator" in locked.json()["error"]["message"]
    assert unknown.status_code == 401
    assert await AuditRecord.filter(action="account.lock", actor_id=person.id).count() == 1
    admin = await make.professional(role=Role.ADMIN)
    admin_auth = {"authorization": f"Bearer {(await issue_token(admin, 'a'))[1]}"}
    other_auth = {"authorization": f"Bearer {(await issue_token(person, 'p'))[1]}"}
    path = f"/api/v1/professionals/{person.id}/unlock"
    assert (await client.post(path, headers=other_auth)).status_code == 403
    assert (await client.post(path, headers=admin_auth)).status_code == 200
    assert (await login(client, person.email, PASSWORD)).status_code == 200


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
