"""One-time sign-in links: an administrator makes one for a person without a usable
password, the person opens it, sets a password and is signed in. Used, expired, replaced,
unknown and deactivated links all get the same refusal; only administrators make them;
the token never reaches the audit trail or the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from feeds.accounts.passwords import unusable_password_hash, verify_password
from feeds.accounts.sign_in_link_model import SignInLink
from feeds.accounts.site_settings import REQUIRE_MFA
from feeds.clock import utcnow
from feeds.models import AuditRecord, Professional, Role, Session, SiteSetting
from server.app import create_app
from server.auth import digest, issue_token
from server.log_redaction import RedactSecretPaths
from server.settings import Settings
from server.sso_settings import LocalPasswords
from tests.conftest import PASSWORD, Factory, client_for
from tests.mfa_helpers import hidden

NEW_PASSWORD = "a brand new passphrase"
REFUSED = "This sign-in link cannot be used"


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


async def imported(make: Factory, **fields: Any) -> Professional:
    """A person as `jigsaw import people` leaves them: no usable password."""
    return await make.professional(password_hash=unusable_password_hash(), **fields)


async def make_link(client: httpx.AsyncClient, admin: Professional, person_id: int) -> str:
    made = await client.post(
        f"/api/v1/admin/people/{person_id}/sign-in-link", headers=await bearer(admin)
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["url"] == "http://testserver" + body["path"]
    path: str = body["path"]
    return path


async def set_password(
    client: httpx.AsyncClient, path: str, password: str = NEW_PASSWORD, again: str | None = None
) -> httpx.Response:
    """Open the link (as a browser does), then send the form it shows."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    data = {
        "csrftoken": hidden(page.text, "csrftoken"),
        "password": password,
        "password_again": password if again is None else again,
    }
    return await client.post(path, data=data, headers={"origin": "http://testserver"})


async def refused_page(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 410, page.text
    assert REFUSED in page.text
    return page.text


async def test_a_link_lets_an_imported_person_set_a_password_and_signs_them_in(
    app: Starlette, client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    person = await imported(make, name="Grace Adebayo")
    path = await make_link(client, admin, person.id)
    page = await client.get(path)
    assert page.status_code == 200 and "Welcome, Grace Adebayo" in page.text
    done = await set_password(client, path)
    assert done.status_code == 303 and done.headers["location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200 and "Grace Adebayo" in home.text
    await person.refresh_from_db()
    assert verify_password(person.password_hash, NEW_PASSWORD)
    async with client_for(app) as other:
        login = await other.post(
            "/api/v1/auth/login", json={"email": person.email, "password": NEW_PASSWORD}
        )
    assert login.status_code == 200
    used = await AuditRecord.get(action="sign_in_link.use", outcome="ok")
    assert used.actor_id == person.id
    created = await AuditRecord.get(action="sign_in_link.create", outcome="ok")
    assert created.actor_id == admin.id and created.detail["professional_id"] == person.id


async def test_a_link_works_once(client: httpx.AsyncClient, make: Factory) -> None:
    admin, person = await make.professional(role=Role.ADMIN), await imported(make)
    path = await make_link(client, admin, person.id)
    assert (await set_password(client, path)).status_code == 303
    await refused_page(client, path)
    again = await client.post(
        path,
        data={"csrftoken": client.cookies["csrftoken"], "password": "x" * 20},
        headers={"origin": "http://testserver"},
    )
    assert again.status_code == 410
    reasons: list[Any] = await AuditRecord.filter(
        action="sign_in_link.use", outcome="failed"
    ).values_list("detail", flat=True)
    assert [r["reason"] for r in reasons] == ["used", "used"]


async def test_expired_unknown_and_replaced_links_get_one_and_the_same_refusal(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin, person = await make.professional(role=Role.ADMIN), await imported(make)
    first = await make_link(client, admin, person.id)
    second = await make_link(client, admin, person.id)  # replaces the first
    replaced = await refused_page(client, first)
    await SignInLink.filter(revoked_at__isnull=True).update(expires_at=utcnow() - timedelta(1))
    expired = await refused_page(client, second)
    unknown = await refused_page(client, "/welcome/" + "A" * 43)
    assert replaced == expired == unknown
    assert person.name not in unknown
    used = AuditRecord.filter(action="sign_in_link.use").order_by("id")
    reasons: list[Any] = await used.values_list("detail", flat=True)
    assert [r["reason"] for r in reasons] == ["revoked", "expired", "unknown"]


async def test_a_short_password_is_refused_and_the_link_still_works(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin, person = await make.professional(role=Role.ADMIN), await imported(make)
    path = await make_link(client, admin, person.id)
    short = await set_password(client, path, "too short")
    assert short.status_code == 422 and "12 to 1024 characters" in short.text
    different = await set_password(client, path, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert different.status_code == 422 and "not the same" in different.text
    assert (await set_password(client, path)).status_code == 303


async def test_deactivation_ends_links_and_a_deactivated_person_gets_none(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin, person = await make.professional(role=Role.ADMIN), await imported(make)
    auth = await bearer(admin)
    path = await make_link(client, admin, person.id)
    off = await client.post(f"/api/v1/admin/people/{person.id}/deactivate", headers=auth)
    assert off.status_code == 200
    await refused_page(client, path)
    refused = await client.post(f"/api/v1/admin/people/{person.id}/sign-in-link", headers=auth)
    assert refused.status_code == 409 and "deactivated" in refused.json()["error"]["message"]
    denied = await AuditRecord.get(action="sign_in_link.create", outcome="denied")
    assert denied.detail == {"professional_id": person.id, "reason": "deactivated"}


async def test_an_administrator_gets_no_link_for_their_own_account(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    own = await client.post(
        f"/api/v1/admin/people/{admin.id}/sign-in-link", headers=await bearer(admin)
    )
    assert own.status_code == 409 and "your own account" in own.json()["error"]["message"]
    assert await SignInLink.all().count() == 0


async def test_only_administrators_make_links(client: httpx.AsyncClient, make: Factory) -> None:
    person = await imported(make)
    for role in (Role.PRACTITIONER, Role.MANAGER):
        auth = await bearer(await make.professional(role=role))
        made = await client.post(f"/api/v1/admin/people/{person.id}/sign-in-link", headers=auth)
        assert made.status_code == 403
    missing = await client.post(
        "/api/v1/admin/people/999999/sign-in-link",
        headers=await bearer(await make.professional(role=Role.ADMIN)),
    )
    assert missing.status_code == 404
    assert await SignInLink.all().count() == 0


@pytest.fixture
async def sso_only(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(replace(settings, local_passwords=LocalPasswords.ADMINS))
    async with app.router.lifespan_context(app):
        yield app


async def test_no_link_for_someone_who_signs_in_through_the_provider(
    sso_only: Starlette, make: Factory
) -> None:
    admin, person = await make.professional(role=Role.ADMIN), await imported(make)
    other_admin = await imported(make, role=Role.ADMIN)
    async with client_for(sso_only) as client:
        refused = await client.post(
            f"/api/v1/admin/people/{person.id}/sign-in-link", headers=await bearer(admin)
        )
        assert refused.status_code == 422
        assert "organisation's sign-in service" in refused.json()["error"]["message"]
        await make_link(client, admin, other_admin.id)  # administrators keep passwords


async def test_with_mfa_required_the_person_sets_up_an_authenticator_next(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin, person = await make.professional(role=Role.ADMIN), await imported(make)
    await SiteSetting.create(key=REQUIRE_MFA, value={"required": True})
    path = await make_link(client, admin, person.id)
    done = await set_password(client, path)
    assert done.status_code == 303 and done.headers["location"].startswith("/account/mfa")
    session = await Session.get(professional_id=person.id)
    assert session.mfa_pending
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"].startswith("/login")


async def test_guessed_tokens_are_throttled_like_failed_sign_ins(
    app: Starlette, make: Factory
) -> None:
    admin, person = await make.professional(role=Role.ADMIN), await imported(make)
    async with client_for(app, "203.0.113.9") as guesser, client_for(app) as owner:
        path = await make_link(owner, admin, person.id)
        for n in range(5):
            await refused_page(guesser, f"/welcome/guess-{n}-{'x' * 30}")
        slowed = await guesser.get(path)
        assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) > 0
        assert (await set_password(owner, path)).status_code == 303


async def test_the_token_never_reaches_the_audit_trail_or_the_logs(
    client: httpx.AsyncClient, make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin, person = await make.professional(role=Role.ADMIN), await imported(make)
    path = await make_link(client, admin, person.id)
    token = path.removeprefix("/welcome/")
    await refused_page(client, "/welcome/" + token[:-1] + "_")
    assert (await set_password(client, path)).status_code == 303
    await refused_page(client, path)
    records = await AuditRecord.all().values_list("detail", "actor_email", "request_id")
    assert records and token not in repr(records) and digest(token) not in repr(records)
    # Everything the server side logged (httpx's own lines are the test client's).
    server_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert server_lines and not [line for line in server_lines if token in line]
    assert (await SignInLink.get()).token_hash == digest(token)
    # uvicorn's access log writes the request path: the filter the app installs redacts it.
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', None, None
    )
    access.args = ("127.0.0.1:5000", "GET", path, "1.1", 200)
    assert RedactSecretPaths().filter(access) and token not in access.getMessage()
    assert "/welcome/[redacted]" in access.getMessage()
    uvicorn_access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, RedactSecretPaths) for f in uvicorn_access.filters)


async def test_the_people_page_makes_a_link_and_shows_it_once(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN, email="admin@example.test")
    person = await imported(make, name="Omar Haddad")
    await client.post("/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
    page = await client.get("/admin/people")
    assert f'action="/admin/people/{person.id}/sign-in-link"' in page.text
    shown = await client.post(
        f"/admin/people/{person.id}/sign-in-link",
        data={"csrftoken": hidden(page.text, "csrftoken")},
        headers={"origin": "http://testserver"},
    )
    assert shown.status_code == 200 and "Sign-in link for Omar Haddad" in shown.text
    link = await SignInLink.get(professional_id=person.id)
    assert "http://testserver/welcome/" in shown.text
    again = await client.get("/admin/people")
    assert "/welcome/" not in again.text and link.used_at is None
