"""Credentials end when they should: a new password or a new authenticator ends every
other session, every access token and their open websockets (the browser that made the
change carries on in a fresh session); and changing the authenticator needs the password,
so a session or a token alone cannot."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed

from feeds.models import AuditRecord, MfaFactor, Professional, Role
from server.auth import issue_token
from server.settings import Settings
from tests.conftest import PASSWORD, Factory, api_login, client_for
from tests.live_server import receive, running_server, ws_connect
from tests.mfa_helpers import code, enrolled, password_step, post_form

NEW_PASSWORD = "a much longer new passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def signed_in_elsewhere(
    app: Starlette, person: Professional
) -> tuple[httpx.AsyncClient, httpx.AsyncClient, str]:
    """This browser, another browser, and an access token, all working."""
    here, there = client_for(app), client_for(app)
    for browser in (here, there):
        await api_login(browser, person.email)
    token = (await issue_token(person, "laptop"))[1]
    async with client_for(app) as api:
        assert (await api.get("/api/v1/me", headers=bearer(token))).status_code == 200
    return here, there, token


async def still_works(app: Starlette, browser: httpx.AsyncClient, token: str) -> tuple[int, int]:
    async with client_for(app) as api:
        by_token = (await api.get("/api/v1/me", headers=bearer(token))).status_code
    return (await browser.get("/api/v1/me")).status_code, by_token


async def test_a_password_change_ends_other_sessions_and_every_token(
    app: Starlette, make: Factory
) -> None:
    person = await make.professional()
    here, there, token = await signed_in_elsewhere(app, person)
    old_cookie = here.cookies["jigsaw_session"]
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    changed = await here.post("/api/v1/auth/password", json=body)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"sessions_ended": 2, "tokens_revoked": 1}
    assert here.cookies["jigsaw_session"] != old_cookie  # renewed, not kept
    assert (await here.get("/api/v1/me")).json()["id"] == person.id
    assert await still_works(app, there, token) == (401, 401)
    detail = await AuditRecord.filter(action="password.change", outcome="ok").values("detail")
    assert detail == [{"detail": {"sessions_ended": 2, "tokens_revoked": 1}}]
    for browser in (here, there):
        await browser.aclose()


async def test_setting_up_an_authenticator_ends_other_sessions_and_every_token(
    app: Starlette, make: Factory
) -> None:
    person = await make.professional()
    here, there, token = await signed_in_elsewhere(app, person)
    started = await here.post("/api/v1/auth/mfa/enrol", json={"password": PASSWORD})
    assert started.status_code == 200, started.text
    secret = started.json()["secret"]
    # Until it is on, nothing ends: starting is harmless.
    assert await still_works(app, there, token) == (200, 200)
    body = {"code": code(secret), "password": PASSWORD}
    done = await here.post("/api/v1/auth/mfa/confirm", json=body)
    assert done.status_code == 200, done.text
    assert (await here.get("/api/v1/me")).json()["id"] == person.id
    assert await still_works(app, there, token) == (401, 401)
    detail: list[Any] = await AuditRecord.filter(action="mfa.enrol").values_list(
        "detail", flat=True
    )
    assert detail == [{"sessions_ended": 2, "tokens_revoked": 1}]
    for browser in (here, there):
        await browser.aclose()


async def test_setting_up_on_the_page_asks_for_the_password_and_ends_the_others(
    app: Starlette, make: Factory
) -> None:
    person = await make.professional()
    token = (await issue_token(person, "laptop"))[1]
    async with client_for(app) as here, client_for(app) as there:
        await password_step(there, person.email)
        await password_step(here, person.email)
        started = await post_form(here, "/account/mfa", "/account/mfa/start", next="/")
        assert started.status_code == 303
        page = (await here.get("/account/mfa")).text
        assert 'name="password"' in page and 'autocomplete="current-password"' in page
        shown = page.split('id="secret">')[1].split("<")[0].replace(" ", "")
        stored = (await MfaFactor.get(professional_id=person.id)).secret
        assert stored.startswith("fernet:") and shown not in stored
        no_password = await post_form(
            here, "/account/mfa", "/account/mfa/confirm", code=code(shown)
        )
        assert no_password.status_code == 422 and "current password" in no_password.text
        assert not await MfaFactor.exists(professional_id=person.id, confirmed_at__isnull=False)
        done = await post_form(
            here, "/account/mfa", "/account/mfa/confirm", code=code(shown), password=PASSWORD
        )
        assert done.status_code == 200 and "will not be shown again" in done.text
        assert (await here.get("/")).status_code == 200  # this browser carries on
        assert (await there.get("/")).status_code == 303  # the other one signs in again
        assert await still_works(app, here, token) == (200, 401)


async def test_a_token_alone_cannot_set_up_turn_off_or_reset_an_authenticator(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    token = bearer((await issue_token(person, "stolen"))[1])
    for body in ({}, {"password": "not it"}):
        refused = await client.post("/api/v1/auth/mfa/enrol", json=body, headers=token)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "password"
    assert not await MfaFactor.exists(professional_id=person.id)
    started = await client.post(
        "/api/v1/auth/mfa/enrol", json={"password": PASSWORD}, headers=token
    )
    secret = started.json()["secret"]
    no_password = await client.post(
        "/api/v1/auth/mfa/confirm", json={"code": code(secret)}, headers=token
    )
    assert no_password.status_code == 422
    assert not await MfaFactor.exists(professional_id=person.id, confirmed_at__isnull=False)

    other = await make.professional()
    other_secret = await enrolled(other)
    other_token = bearer((await issue_token(other, "stolen"))[1])
    off = await client.post(
        "/api/v1/auth/mfa/disable", json={"code": code(other_secret)}, headers=other_token
    )
    assert off.status_code == 422 and off.json()["error"]["field"] == "password"
    admin_token = bearer((await issue_token(await make.professional(role=Role.ADMIN), "a"))[1])
    reset = await client.post(
        f"/api/v1/professionals/{other.id}/mfa/reset", json={}, headers=admin_token
    )
    assert reset.status_code == 422
    assert await MfaFactor.exists(professional_id=other.id)


@pytest.mark.parametrize("change", ["password", "authenticator"])
async def test_the_change_closes_the_open_sockets_of_other_sessions_and_tokens(
    settings: Settings, change: str
) -> None:
    async with running_server(settings) as address:
        make = Factory()
        person = await make.professional()
        token = (await issue_token(person, "phone"))[1]
        origin = f"http://{address}"
        async with (
            httpx.AsyncClient(base_url=origin, timeout=30) as other,
            httpx.AsyncClient(base_url=origin, timeout=30) as here,
        ):
            await api_login(other, person.email)
            await api_login(here, person.email)
            cookie = f"jigsaw_session={other.cookies['jigsaw_session']}"
            async with (
                ws_connect(address, cookie=cookie, origin=origin) as by_session,
                ws_connect(address, token=token, origin=origin) as by_token,
            ):
                for socket in (by_session, by_token):
                    assert (await receive(socket))["type"] == "hello"
                if change == "password":
                    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
                    assert (await here.post("/api/v1/auth/password", json=body)).status_code == 200
                else:
                    with_password = {"password": PASSWORD}
                    started = await here.post("/api/v1/auth/mfa/enrol", json=with_password)
                    body = {"code": code(started.json()["secret"]), **with_password}
                    assert (
                        await here.post("/api/v1/auth/mfa/confirm", json=body)
                    ).status_code == 200
                for socket in (by_session, by_token):
                    with pytest.raises(ConnectionClosed) as closed:
                        await asyncio.wait_for(socket.recv(), 3)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
