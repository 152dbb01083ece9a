"""Two-step sign-in (TOTP): enrolment, the MFA-pending session, throttling and replay,
recovery codes, the administrators' requirement and reset, the JSON API, and the audit.

Codes come from pyotp with the secret the page or API shows, as an authenticator app
would make them. The server accepts one step of drift and never the same step twice, so
a test uses at most two codes per account: `code(secret)` then `code(secret, 1)`.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed, InvalidStatus

from feeds.accounts import lockout, throttle
from feeds.models import (
    ApiToken,
    AuditRecord,
    MfaFactor,
    Professional,
    RecoveryCode,
    Role,
    Session,
)
from server.auth import digest, issue_token
from server.settings import Settings
from tests.conftest import PASSWORD, Factory, client_for
from tests.live_server import receive, running_server, ws_connect
from tests.mfa_helpers import code, enrolled, password_step, post_form

pytestmark = pytest.mark.asyncio


async def actions(action: str) -> list[str]:
    """The outcomes recorded for `action`, oldest first."""
    rows = AuditRecord.filter(action=action).order_by("id")
    return [str(o) for o in await rows.values_list("outcome", flat=True)]


async def api_login(client: httpx.AsyncClient, email: str, **extra: str) -> httpx.Response:
    """A fresh API sign-in, as a new device would make it (no cookies)."""
    client.cookies.clear()
    return await client.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD, **extra}
    )


async def full_login(client: httpx.AsyncClient, person: Professional, secret: str) -> None:
    """Password, then the current code, through the HTML forms."""
    assert (await password_step(client, person.email)).startswith("/login/mfa")
    done = await post_form(client, "/login/mfa", "/login/mfa", code=code(secret), next="/")
    assert done.status_code == 303 and done.headers["location"] == "/", done.text


def shown_secret(page: str) -> str:
    match = re.search(r'<code class="secret" id="secret">([A-Z2-7 ]+)</code>', page)
    assert match, "the set-up page shows the secret for typing in by hand"
    return match.group(1).replace(" ", "")


async def start_setup(client: httpx.AsyncClient, page: str = "/account/mfa") -> str:
    """Press "Set up" on the set-up page; returns the secret the next page shows."""
    started = await post_form(client, page, "/account/mfa/start", next="/")
    assert started.status_code == 303 and started.headers["location"].startswith("/account/mfa")
    shown = await client.get(started.headers["location"])
    assert "<svg" in shown.text and "QR code for your authenticator app" in shown.text
    return shown_secret(shown.text)


def shown_codes(page: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", page)


# --- Enrolment ----------------------------------------------------------------------------


async def test_enrolment_shows_a_qr_code_and_the_secret_and_a_code_turns_it_on(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    assert await password_step(client, person.email) == "/"
    intro = await client.get("/account/mfa")
    assert intro.status_code == 200 and "Set up two-step sign-in" in intro.text
    assert not await MfaFactor.exists(professional_id=person.id)  # GET never writes
    secret = await start_setup(client)
    page = await client.get("/account/mfa")
    assert shown_secret(page.text) == secret  # reloading shows the same key
    # The QR code is inline: nothing on the page is fetched from another host.
    assert set(re.findall(r'(?:src|href)="(\w+://[^/"]+)', page.text)) <= {"http://testserver"}
    assert 'autocomplete="one-time-code"' in page.text and 'inputmode="numeric"' in page.text
    assert not await MfaFactor.exists(professional_id=person.id, confirmed_at__isnull=False)

    done = await post_form(
        client, "/account/mfa", "/account/mfa/confirm", code=code(secret), password=PASSWORD
    )
    assert done.status_code == 200
    codes = shown_codes(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "will not be shown again" in done.text
    stored: list[Any] = await RecoveryCode.filter(professional_id=person.id).values_list(
        "code_hash", flat=True
    )
    assert len(stored) == 10 and all(h.startswith("$argon2id$") for h in stored)
    assert not any(c in h for c in codes for h in stored)  # only hashes are kept
    assert await actions("mfa.enrol") == ["ok"]
    manage = await client.get("/account/mfa")
    assert "<strong>On.</strong>" in manage.text and "10 unused recovery codes" in manage.text


async def test_a_wrong_code_at_enrolment_leaves_mfa_off(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    await password_step(client, person.email)
    wrong = "000000" if code(await start_setup(client)) != "000000" else "111111"
    refused = await post_form(
        client, "/account/mfa", "/account/mfa/confirm", code=wrong, password=PASSWORD
    )
    assert refused.status_code == 422 and "not right" in refused.text
    assert not await MfaFactor.exists(professional_id=person.id, confirmed_at__isnull=False)
    assert await RecoveryCode.filter(professional_id=person.id).count() == 0
    assert await actions("mfa.verify") == ["failed"]


# --- Signing in ---------------------------------------------------------------------------


async def test_password_alone_gives_a_short_pending_session_and_the_code_a_new_full_one(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    secret = await enrolled(person)
    target = await password_step(client, person.email, next_path="/notifications")
    assert target == "/login/mfa?next=%2Fnotifications"
    pending_id = digest(client.cookies["jigsaw_session"])
    pending = await Session.get(id=pending_id)
    assert pending.mfa_pending
    assert pending.expires_at - pending.created_at <= timedelta(minutes=5, seconds=1)
    # Anything else sends the browser back to the code page, through the login page.
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"].startswith("/login")
    again = await client.get(home.headers["location"])
    assert again.status_code == 303 and again.headers["location"].startswith("/login/mfa")
    assert await actions("login") == ["mfa_pending"]

    done = await post_form(
        client, "/login/mfa", "/login/mfa", code=code(secret), next="/notifications"
    )
    assert done.status_code == 303 and done.headers["location"] == "/notifications"
    assert digest(client.cookies["jigsaw_session"]) != pending_id  # a new session id
    assert (await Session.get(id=pending_id)).revoked_at is not None
    assert (await client.get("/")).status_code == 200
    assert await actions("mfa.verify") == ["ok"]


async def test_a_pending_session_reads_no_child_over_http_or_websocket(
    settings: Settings, make: Factory
) -> None:
    async with running_server(settings) as address:
        make = Factory()
        child = await make.child()
        person = await make.practitioner(grants=[child])
        await enrolled(person)
        async with httpx.AsyncClient(base_url=f"http://{address}") as browser:
            await password_step(browser, person.email)
            page = await browser.get(f"/children/{child.id}")
            api = await browser.get(f"/api/v1/children/{child.id}/posts")
            listing = await browser.get("/api/v1/children")
            cookie = f"jigsaw_session={browser.cookies['jigsaw_session']}"
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert api.status_code == 401 and listing.status_code == 401
        for response in (page, api, listing):
            assert child.display_name not in response.text
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(address, cookie=cookie, origin=f"http://{address}") as s:
                await receive(s)
        assert refused.value.response.status_code == 403


async def test_an_expired_pending_session_must_start_again(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    secret = await enrolled(person)
    await password_step(client, person.email)
    pending_id = digest(client.cookies["jigsaw_session"])
    session = await Session.get(id=pending_id)
    await Session.filter(id=pending_id).update(expires_at=session.created_at)
    late = await client.post("/login/mfa", data={"code": code(secret), "next": "/"})
    assert late.status_code == 303 and late.headers["location"].startswith("/login")
    assert await Session.filter(professional_id=person.id, mfa_pending=False).count() == 0


async def test_a_pending_session_cannot_reach_enrolment_or_the_mfa_api(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    await enrolled(person)
    await password_step(client, person.email)
    page = await client.get("/account/mfa")
    assert page.status_code == 303 and page.headers["location"].startswith("/login/mfa")
    fresh = await client.post("/api/v1/auth/mfa/enrol")
    assert fresh.status_code == 403
    status = (await client.get("/api/v1/auth/mfa")).json()
    assert status["stage"] == "code" and status["recovery_codes_left"] == 0  # nothing told
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_a_code_is_refused_the_second_time(client: httpx.AsyncClient, make: Factory) -> None:
    person = await make.practitioner()
    secret = await enrolled(person)
    now = code(secret)
    assert (await api_login(client, person.email, code=now)).status_code == 200
    replay = await api_login(client, person.email, code=now)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "mfa_failed" and replay.json()["mfa_required"]
    assert "used already" in replay.json()["error"]["message"]
    assert await actions("mfa.verify") == ["ok", "replayed"]
    # The next step's code still works (an app shows a new code every 30 seconds).
    assert (await api_login(client, person.email, code=code(secret, 1))).status_code == 200


async def test_wrong_codes_are_throttled_like_wrong_passwords(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    secret = await enrolled(person)
    wrong = "000000" if code(secret) != "000000" else "111111"
    await password_step(client, person.email)
    for _ in range(throttle.FREE_FAILURES):
        refused = await post_form(client, "/login/mfa", "/login/mfa", code=wrong, next="/")
        assert refused.status_code == 401 and "not right" in refused.text
    blocked = await post_form(client, "/login/mfa", "/login/mfa", code=code(secret), next="/")
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert (await api_login(client, person.email, code=code(secret))).status_code == 429
    assert await actions("mfa.verify") == ["failed"] * throttle.FREE_FAILURES
    await person.refresh_from_db()
    assert person.failed_logins == throttle.FREE_FAILURES


async def test_enough_wrong_codes_lock_the_account_even_after_right_passwords(
    client: httpx.AsyncClient, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No delays, and a lower lock, so the lock is what stops the sign-in (and quickly).
    monkeypatch.setattr(throttle, "FREE_FAILURES", 10_000)
    monkeypatch.setattr(lockout, "LOCK_AFTER", 20)
    person = await make.practitioner()
    secret = await enrolled(person)
    wrong = "000000" if code(secret) != "000000" else "111111"
    for _ in range(20):  # each with the right password
        assert (await api_login(client, person.email, code=wrong)).status_code == 401
    await person.refresh_from_db()
    assert person.locked_at is not None
    assert await actions("account.lock") == ["locked"]
    assert (await api_login(client, person.email, code=code(secret))).status_code == 429


# --- Recovery codes -----------------------------------------------------------------------


async def enrol_through_api(
    client: httpx.AsyncClient, person: Professional
) -> tuple[str, list[str]]:
    """Sign in (no MFA yet), set up an authenticator through the API; secret and codes."""
    login = await api_login(client, person.email)
    assert login.status_code == 200
    client.headers["x-csrftoken"] = login.json()["csrf_token"]
    with_password = {"password": PASSWORD}
    secret = (await client.post("/api/v1/auth/mfa/enrol", json=with_password)).json()["secret"]
    confirmed = await client.post(
        "/api/v1/auth/mfa/confirm", json={"code": code(secret), **with_password}
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


async def test_a_recovery_code_signs_in_once(app: Starlette, make: Factory) -> None:
    person = await make.practitioner()
    async with client_for(app) as setup:
        _, codes = await enrol_through_api(setup, person)
    async with client_for(app) as client:
        used = await api_login(client, person.email, recovery_code=codes[3].upper())
        assert used.status_code == 200, used.text
        again = await api_login(client, person.email, recovery_code=codes[3])
        assert again.status_code == 401 and again.json()["error"]["field"] == "recovery_code"
        assert (await api_login(client, person.email, recovery_code=codes[4])).status_code == 200
    assert await actions("mfa.recovery") == ["ok", "failed", "ok"]
    assert await RecoveryCode.filter(professional_id=person.id, used_at__isnull=True).count() == 8


async def test_the_code_page_takes_a_recovery_code(
    client: httpx.AsyncClient, app: Starlette, make: Factory
) -> None:
    person = await make.practitioner()
    async with client_for(app) as setup:
        _, codes = await enrol_through_api(setup, person)
    await password_step(client, person.email)
    done = await post_form(client, "/login/mfa", "/login/mfa", recovery_code=codes[0], next="/")
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert (await client.get("/")).status_code == 200


async def test_new_recovery_codes_need_a_current_code_and_replace_the_old(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    secret, old = await enrol_through_api(client, person)
    refused = await client.post("/api/v1/auth/mfa/recovery-codes", json={"code": "12345"})
    assert refused.status_code == 422
    fresh = await client.post("/api/v1/auth/mfa/recovery-codes", json={"code": code(secret, 1)})
    assert fresh.status_code == 200
    new = fresh.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert await actions("mfa.recovery_codes") == ["ok"]
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as other:
        stale = await api_login(other, person.email, recovery_code=old[0])
        assert stale.status_code == 401
        assert (await api_login(other, person.email, recovery_code=new[0])).status_code == 200


# --- Turning it off, and the administrators -----------------------------------------------


async def test_turning_mfa_off_needs_a_current_code(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    secret, _ = await enrol_through_api(client, person)
    wrong = "000000" if code(secret, 1) != "000000" else "111111"
    path, with_password = "/api/v1/auth/mfa/disable", {"password": PASSWORD}
    assert (await client.post(path, json={"code": wrong, **with_password})).status_code == 422
    off = await client.post(path, json={"code": code(secret, 1), **with_password})
    assert off.status_code == 204
    assert not await MfaFactor.exists(professional_id=person.id)
    assert await RecoveryCode.filter(professional_id=person.id).count() == 0
    assert await actions("mfa.disable") == ["ok"]
    assert (await api_login(client, person.email)).status_code == 200  # password alone again


async def require_mfa(client: httpx.AsyncClient, make: Factory) -> Professional:
    """An enrolled administrator requires MFA for everyone, through the admin page."""
    admin = await make.professional(role=Role.ADMIN)
    secret = await enrolled(admin)
    await full_login(client, admin, secret)
    done = await post_form(client, "/admin/mfa", "/admin/mfa/require", required="on")
    assert done.status_code == 303 and done.headers["location"] == "/admin/mfa?done=required"
    return admin


async def test_when_required_a_user_without_mfa_can_reach_only_enrolment(
    client: httpx.AsyncClient, app: Starlette, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    old_token = (await issue_token(person, "phone"))[1]
    async with client_for(app) as before:
        await password_step(before, person.email)  # a session from before the requirement
        await require_mfa(client, make)
        assert (await before.get("/")).status_code == 303  # ended
    assert (
        await client.get("/api/v1/me", headers={"authorization": f"Bearer {old_token}"})
    ).status_code == 401
    assert await actions("mfa.require") == ["ok"]

    async with client_for(app) as browser:
        target = await password_step(browser, person.email, next_path=f"/children/{child.id}")
        assert target.startswith("/account/mfa")
        for path in ("/", f"/children/{child.id}", "/search?q=school"):
            response = await browser.get(path)
            assert response.status_code == 303, path
            assert child.display_name not in response.text
        assert (await browser.get(f"/api/v1/children/{child.id}")).status_code == 401
        setup = await browser.get(target)
        assert "requires two-step sign-in" in setup.text
        secret = await start_setup(browser, target)
        done = await post_form(
            browser, target, "/account/mfa/confirm", code=code(secret), next=f"/children/{child.id}"
        )
        assert done.status_code == 200 and len(shown_codes(done.text)) == 10
        page = await browser.get(f"/children/{child.id}")
        assert page.status_code == 200 and child.display_name in page.text


async def test_requiring_mfa_closes_the_open_sockets_of_people_without_it(
    settings: Settings,
) -> None:
    async with running_server(settings) as address:
        make = Factory()
        person = await make.practitioner()
        async with httpx.AsyncClient(base_url=f"http://{address}") as browser:
            await password_step(browser, person.email)
            cookie = f"jigsaw_session={browser.cookies['jigsaw_session']}"
        async with ws_connect(address, cookie=cookie, origin=f"http://{address}") as socket:
            assert (await receive(socket))["type"] == "hello"
            async with httpx.AsyncClient(base_url=f"http://{address}") as admin_browser:
                await require_mfa(admin_browser, make)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_requiring_mfa_is_for_administrators_who_have_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    assert (await api_login(client, admin.email)).status_code == 200
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]
    first = await client.put("/api/v1/settings/mfa", json={"required": True})
    assert first.status_code == 403 and "for yourself" in first.json()["error"]["message"]
    person = await make.practitioner()
    token = (await issue_token(person, "t"))[1]
    bearer = {"authorization": f"Bearer {token}"}
    assert (
        await client.put("/api/v1/settings/mfa", json={"required": True}, headers=bearer)
    ).status_code == 403
    assert (await client.get("/admin/mfa", headers=bearer)).status_code == 403
    assert (
        await client.put("/api/v1/settings/mfa", json={"required": "yes"}, headers=bearer)
    ).status_code == 422


async def test_an_administrator_resets_someones_mfa(
    client: httpx.AsyncClient, app: Starlette, make: Factory
) -> None:
    person = await make.practitioner()
    secret = await enrolled(person)
    async with client_for(app) as theirs:
        await full_login(theirs, person, secret)
        admin = await make.professional(role=Role.ADMIN)
        token = (await issue_token(admin, "admin"))[1]
        bearer = {"authorization": f"Bearer {token}"}
        not_admin = (await issue_token(person, "x"))[1]
        refused = await client.post(
            f"/api/v1/professionals/{person.id}/mfa/reset",
            headers={"authorization": f"Bearer {not_admin}"},
            json={"password": PASSWORD},
        )
        assert refused.status_code == 403
        reset = await client.post(
            f"/api/v1/professionals/{person.id}/mfa/reset",
            headers=bearer,
            json={"password": PASSWORD},
        )
        assert reset.status_code == 200
        assert reset.json() == {"id": person.id, "mfa_enabled": False, "sessions_ended": 1}
        assert (await theirs.get("/")).status_code == 303  # their session ended
    assert not await MfaFactor.exists(professional_id=person.id)
    records = await AuditRecord.filter(action="mfa.reset").values("actor_id", "detail")
    assert records == [{"actor_id": admin.id, "detail": {"professional_id": person.id}}]


async def test_the_admin_page_resets_by_email_and_lists_who_has_no_mfa(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    await full_login(client, admin, await enrolled(admin))
    person = await make.practitioner()
    await enrolled(person)
    without = await make.practitioner()
    page = await client.get("/admin/mfa")
    assert without.email in page.text and person.email not in page.text
    unknown = await post_form(client, "/admin/mfa", "/admin/mfa/reset", email="nobody@x.test")
    assert unknown.status_code == 422 and "Nobody with that email" in unknown.text
    done = await post_form(client, "/admin/mfa", "/admin/mfa/reset", email=person.email)
    assert done.status_code == 303
    assert not await MfaFactor.exists(professional_id=person.id)
    assert await actions("mfa.reset") == ["ok"]


# --- JSON API -----------------------------------------------------------------------------


async def test_api_login_asks_for_the_code_and_accepts_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    secret = await enrolled(person)
    asked = await api_login(client, person.email)
    assert asked.status_code == 401
    assert asked.json()["mfa_required"] is True and asked.json()["error"]["code"] == "mfa_required"
    assert "jigsaw_session" not in asked.cookies
    wrong = await api_login(client, person.email, code="12345a")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "mfa_failed"
    bad_password = await client.post(
        "/api/v1/auth/login", json={"email": person.email, "password": "nope", "code": "1"}
    )
    assert bad_password.status_code == 401 and "mfa_required" not in bad_password.json()
    ok = await api_login(client, person.email, code=code(secret))
    assert ok.status_code == 200 and ok.json()["me"]["id"] == person.id
    assert (await client.get("/api/v1/me")).status_code == 200


async def test_tokens_take_the_same_second_factor(client: httpx.AsyncClient, make: Factory) -> None:
    person = await make.practitioner()
    secret = await enrolled(person)
    body = {"email": person.email, "password": PASSWORD, "name": "phone"}
    asked = await client.post("/api/v1/auth/tokens", json=body)
    assert asked.status_code == 401 and asked.json()["mfa_required"] is True
    made = await client.post("/api/v1/auth/tokens", json={**body, "code": code(secret)})
    assert made.status_code == 201
    assert await ApiToken.filter(professional_id=person.id).count() == 1


async def test_api_enrolment_when_required(
    client: httpx.AsyncClient, app: Starlette, make: Factory
) -> None:
    await require_mfa(client, make)
    person = await make.practitioner()
    async with client_for(app) as api:
        body = {"email": person.email, "password": PASSWORD, "name": "phone"}
        no_token = await api.post("/api/v1/auth/tokens", json=body)
        assert no_token.status_code == 403 and no_token.json()["mfa_enrolment_required"]
        login = await api_login(api, person.email)
        assert login.status_code == 403 and login.json()["mfa_enrolment_required"] is True
        api.headers["x-csrftoken"] = login.json()["csrf_token"]
        assert (await api.get("/api/v1/me")).status_code == 401
        status = (await api.get("/api/v1/auth/mfa")).json()
        assert status == {
            "enabled": False,
            "required": True,
            "recovery_codes_left": 0,
            "stage": "enrol",
        }
        started = (await api.post("/api/v1/auth/mfa/enrol")).json()
        assert started["otpauth_uri"].startswith("otpauth://totp/Jigsaw:")
        assert started["secret"] in started["otpauth_uri"]
        done = await api.post("/api/v1/auth/mfa/confirm", json={"code": code(started["secret"])})
        assert done.status_code == 200 and len(done.json()["recovery_codes"]) == 10
        assert (await api.get("/api/v1/me")).json()["id"] == person.id
        off = await api.post(
            "/api/v1/auth/mfa/disable",
            json={"code": code(started["secret"], 1), "password": PASSWORD},
        )
        assert off.status_code == 403  # required: only an administrator can reset it
