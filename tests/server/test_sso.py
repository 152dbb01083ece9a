"""Single sign-on against a real OpenID Connect provider (oidc-provider on Node, started
by tests/oidc_helpers.py): sign-in, the provider's MFA, unknown people, logout, a provider
that is down, and who may still use a password."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import httpx
import pytest
from starlette.datastructures import Secret

from feeds.audit.actions import CREDENTIAL_ACTIONS, AuditAction, AuditOutcome
from feeds.models import AuditRecord, Professional, Role, Session
from feeds.sso.models import SsoIdentity
from server.auth import digest
from server.settings import Settings
from server.sso_settings import LocalPasswords, OidcSettings
from tests.conftest import PASSWORD, Factory
from tests.mfa_helpers import code, enrolled, hidden, post_form
from tests.oidc_helpers import CLIENT_ID, CLIENT_SECRET, at_provider, free_port, running_provider

NAME = "Test Council"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with running_provider() as url:
        yield url


def oidc(issuer: str) -> OidcSettings:
    return OidcSettings(
        issuer=issuer, client_id=CLIENT_ID, client_secret=Secret(CLIENT_SECRET), name=NAME
    )


@pytest.fixture
def settings(settings: Settings, issuer: str) -> Settings:
    return replace(settings, oidc=oidc(issuer), local_passwords=LocalPasswords.ADMINS)


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The browser's side at the provider: its own cookies, real loopback network."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def sign_in(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, login: str, next_path: str = "/"
) -> httpx.Response:
    """Start at the app, sign in at the provider, and return the app's answer to the callback."""
    started = await client.get("/auth/oidc/start", params={"next": next_path})
    assert started.status_code == 302, started.text
    back = await at_provider(
        browser, started.headers["location"], login=login, password=f"{login}-pass"
    )
    return await client.get(back)


async def me(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/api/v1/me")


async def actions_since(first_id: int) -> list[tuple[str, str, str]]:
    rows = await AuditRecord.filter(id__gt=first_id).order_by("id")
    return [(row.action, row.outcome, row.actor_email) for row in rows]


async def test_login_page_offers_the_provider(client: httpx.AsyncClient) -> None:
    page = await client.get("/login?next=/board")
    assert f"Sign in with {NAME}" in page.text
    assert 'href="/auth/oidc/start?next=/board"' in page.text
    assert "Administrators may also sign in with a password." in page.text


async def test_first_sign_in_links_by_verified_email_then_by_subject(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, make: Factory
) -> None:
    alice = await make.practitioner(email="alice@council.example")
    await enrolled(alice)  # our own authenticator: not asked for, the provider used one

    answer = await sign_in(client, browser, "alice", next_path="/search")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/search"
    assert (await me(client)).json()["email"] == "alice@council.example"
    identity = await SsoIdentity.get(professional_id=alice.id)
    assert (identity.subject, identity.email_at_link) == ("sub-alice", "alice@council.example")
    logins = await AuditRecord.filter(action=AuditAction.LOGIN, actor_id=alice.id)
    assert [(r.outcome, r.detail["via"], r.detail["amr"]) for r in logins] == [
        (AuditOutcome.OK, "oidc", ["pwd", "otp"])
    ]
    assert await AuditRecord.filter(action=AuditAction.SSO_LINK, actor_id=alice.id).count() == 1

    # Later the subject decides: a changed email here does not matter.
    await Professional.filter(id=alice.id).update(email="alice.adams@council.example")
    client.cookies.clear()
    again = await sign_in(client, browser, "alice")
    assert again.status_code == 303
    assert (await me(client)).json()["id"] == alice.id


async def test_password_only_at_the_provider_still_needs_our_code(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, make: Factory
) -> None:
    bob = await make.practitioner(email="bob@council.example")
    secret = await enrolled(bob)

    answer = await sign_in(client, browser, "bob", next_path="/board")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login/mfa?next=%2Fboard"
    assert (await me(client)).status_code == 401  # half-way is not signed in
    done = await post_form(client, "/login/mfa", "/login/mfa", code=code(secret), next="/board")
    assert done.status_code == 303, done.text
    assert (await me(client)).json()["id"] == bob.id
    # Still a single sign-on session: its logout goes to the provider.
    raw = client.cookies["jigsaw_session"]
    assert (await Session.get(id=digest(raw))).via_sso


async def test_unknown_person_is_refused_and_audited(
    client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    before = await AuditRecord.all().count()

    answer = await sign_in(client, browser, "stranger")

    assert answer.status_code == 403
    assert "no Jigsaw account for you" in answer.text
    assert "jigsaw_session" not in client.cookies
    assert await actions_since(before) == [
        (AuditAction.SSO_REFUSED, AuditOutcome.DENIED, "stranger@elsewhere.example")
    ]
    refusal = await AuditRecord.get(action=AuditAction.SSO_REFUSED)
    assert refusal.detail["subject"] == "sub-stranger"
    # The provider vouched for this person: no credential was guessed (no throttle count).
    assert AuditAction.SSO_REFUSED not in CREDENTIAL_ACTIONS


async def test_an_unverified_email_links_nobody(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, make: Factory
) -> None:
    await make.practitioner(email="carol@council.example")

    answer = await sign_in(client, browser, "carol")

    assert answer.status_code == 403
    assert await SsoIdentity.all().count() == 0


async def test_a_deactivated_account_is_refused(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, make: Factory
) -> None:
    alice = await make.practitioner(email="alice@council.example")
    assert (await sign_in(client, browser, "alice")).status_code == 303
    await Professional.filter(id=alice.id).update(is_active=False)
    client.cookies.clear()

    answer = await sign_in(client, browser, "alice")

    assert answer.status_code == 403
    refusal = await AuditRecord.get(action=AuditAction.SSO_REFUSED)
    assert (refusal.actor_id, refusal.detail["reason"]) == (alice.id, "account deactivated")


async def test_logout_ends_our_session_and_the_providers(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, make: Factory, issuer: str
) -> None:
    await make.practitioner(email="alice@council.example")
    assert (await sign_in(client, browser, "alice")).status_code == 303
    raw = client.cookies["jigsaw_session"]

    out = await post_form(client, "/", "/logout")

    assert out.status_code == 303
    assert out.headers["location"].startswith(f"{issuer}/session/end?")
    assert (await Session.get(id=digest(raw))).revoked_at is not None
    client.cookies.clear()
    assert (await me(client)).status_code == 401
    back = await at_provider(browser, out.headers["location"], logout="yes")
    assert back.startswith("/login")
    # The provider's session is gone too: signing in asks for the password again.
    started = await client.get("/auth/oidc/start")
    asked = await browser.get(started.headers["location"], follow_redirects=True)
    assert 'name="password"' in asked.text


async def test_a_callback_without_its_start_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.get("/auth/oidc/callback?code=stolen&state=guessed")
    assert answer.status_code == 400
    assert "please start again" in answer.text
    assert "jigsaw_session" not in client.cookies


async def test_a_forged_state_is_refused(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, make: Factory
) -> None:
    await make.practitioner(email="alice@council.example")
    started = await client.get("/auth/oidc/start")
    back = await at_provider(
        browser, started.headers["location"], login="alice", password="alice-pass"
    )
    forged = back.replace("state=", "state=x")
    answer = await client.get(forged)
    assert answer.status_code == 400
    assert (await me(client)).status_code == 401


class TestProviderDown:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        return replace(settings, oidc=oidc(dead))

    async def test_a_clear_page_and_administrators_still_sign_in(
        self, client: httpx.AsyncClient, make: Factory
    ) -> None:
        admin = await make.professional(role=Role.ADMIN)
        practitioner = await make.practitioner()

        page = await client.get("/auth/oidc/start")

        assert page.status_code == 503
        assert (
            "Your organisation&#39;s sign-in service is not answering; administrators can "
            "still sign in with a password." in page.text
        )
        refused = await post_form(
            client, "/login", "/login", email=practitioner.email, password=PASSWORD
        )
        assert refused.status_code == 401
        assert "passwords here are for administrators only" in refused.text
        signed_in = await post_form(
            client, "/login", "/login", email=admin.email, password=PASSWORD
        )
        assert signed_in.status_code == 303
        assert (await me(client)).json()["id"] == admin.id


async def test_passwords_off_for_practitioners_over_the_api_too(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    before = await AuditRecord.all().count()
    for path in ("/api/v1/auth/login", "/api/v1/auth/tokens"):
        answer = await client.post(
            path, json={"email": person.email, "password": PASSWORD, "name": "phone"}
        )
        assert answer.status_code == 401
        assert "sign-in service" in answer.json()["error"]["message"]
    assert {(a, o) for a, o, _ in await actions_since(before)} == {
        (AuditAction.LOGIN, AuditOutcome.DENIED)
    }


async def test_no_provider_configured_means_no_sso_routes(
    make: Factory, settings: Settings
) -> None:
    from server.app import create_app

    plain = create_app(replace(settings, oidc=None, local_passwords=LocalPasswords.ALL))
    async with plain.router.lifespan_context(plain):
        transport = httpx.ASGITransport(app=plain)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/auth/oidc/start")).status_code == 404
            page = await c.get("/login")
            assert "Sign in with" not in page.text
            assert hidden(page.text, "csrftoken")
