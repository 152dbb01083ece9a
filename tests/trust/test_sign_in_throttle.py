"""Sign-in throttling after NIST SP 800-63B: delays per account and address, a looser
ceiling per address, a hard lock only after many failures; the real user, at their own
address, is not locked out by someone else's failures elsewhere.

Addresses are the peer the app sees (set on the in-process transport; documentation
ranges, no traffic leaves the test)."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from feeds.accounts import lockout, throttle
from feeds.audit.actions import CREDENTIAL_ACTIONS
from feeds.models import AuditRecord, Professional, Role
from server.auth import issue_token
from tests.conftest import PASSWORD, Factory, client_for

HOME = "198.51.100.7"  # the real user's office
ATTACKER = "203.0.113.66"


async def login_from(
    app: Starlette, address: str, email: str, password: str = PASSWORD, **extra: str
) -> httpx.Response:
    async with client_for(app, address) as client:
        body = {"email": email, "password": password, **extra}
        return await client.post("/api/v1/auth/login", json=body)


async def fail_from(app: Starlette, address: str, email: str, times: int) -> None:
    for _ in range(times):
        assert (await login_from(app, address, email, "wrong password")).status_code == 401


def test_delays_double_after_the_free_failures_up_to_a_ceiling() -> None:
    free = throttle.FREE_FAILURES
    assert [throttle.delay_after(n) for n in range(free)] == [timedelta(0)] * free
    first = throttle.delay_after(free)
    assert first == throttle.FIRST_DELAY
    assert throttle.delay_after(free + 1) == 2 * first
    assert throttle.delay_after(free + 3) == 8 * first
    assert throttle.delay_after(free + 50) == throttle.MAX_DELAY == throttle.delay_after(10**6)


async def test_an_attacker_slows_only_their_own_address_not_the_real_user(
    app: Starlette, make: Factory
) -> None:
    person = await make.professional()
    await fail_from(app, ATTACKER, person.email, throttle.FREE_FAILURES)
    held = await login_from(app, ATTACKER, person.email)  # even with the right password
    assert held.status_code == 429
    wait = int(held.headers["retry-after"])
    assert 0 < wait <= throttle.FIRST_DELAY.total_seconds()
    assert "wait" in held.json()["error"]["message"]
    assert (await login_from(app, HOME, person.email)).status_code == 200
    # A held attempt is not a failure: it does not lengthen the wait by itself.
    failed = AuditRecord.filter(action="login", outcome="failed", actor_email=person.email)
    assert await failed.count() == throttle.FREE_FAILURES


async def test_unknown_emails_are_held_exactly_like_known_ones(
    app: Starlette, make: Factory
) -> None:
    person = await make.professional()
    answers = []
    for email in (person.email, "nobody@example.test"):
        first = await login_from(app, ATTACKER, email, "wrong password")
        await fail_from(app, ATTACKER, email, throttle.FREE_FAILURES - 1)
        held = await login_from(app, ATTACKER, email, "wrong password")
        answers.append((first.status_code, first.json(), held.status_code, held.json()))
        assert "retry-after" in held.headers
    (known_first, known_body, known_held, known_error), unknown = answers
    assert (known_first, known_body) == unknown[:2]
    assert known_held == unknown[2] == 429
    assert known_error["error"]["code"] == unknown[3]["error"]["code"] == "throttled"


async def test_a_completed_sign_in_starts_the_count_afresh(app: Starlette, make: Factory) -> None:
    person = await make.professional()
    await fail_from(app, HOME, person.email, throttle.FREE_FAILURES - 1)
    assert (await login_from(app, HOME, person.email)).status_code == 200
    await fail_from(app, HOME, person.email, throttle.FREE_FAILURES - 1)
    assert (await login_from(app, HOME, person.email)).status_code == 200


async def test_one_address_spraying_many_accounts_meets_the_address_ceiling(
    app: Starlette, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "ADDRESS_CEILING", 6)  # 300 for real: fewer logins here
    people = [await make.professional() for _ in range(3)]
    for person in people:
        await fail_from(app, ATTACKER, person.email, 2)  # each far below the per-account delay
    fresh = await make.professional()
    held = await login_from(app, ATTACKER, fresh.email)
    assert held.status_code == 429 and int(held.headers["retry-after"]) > 0
    assert (await login_from(app, HOME, fresh.email)).status_code == 200


async def test_many_failures_from_many_addresses_lock_the_account_until_an_admin_unlocks_it(
    app: Starlette, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lockout.LOCK_AFTER == 100  # NIST's ceiling; 20 here, so the test is quick
    monkeypatch.setattr(lockout, "LOCK_AFTER", 20)
    person = await make.professional()
    per_address = throttle.FREE_FAILURES - 1  # never delayed: a botnet's pattern
    addresses = [f"192.0.2.{n}" for n in range(1, lockout.LOCK_AFTER // per_address + 1)]
    for address in addresses[:-1]:
        await fail_from(app, address, person.email, per_address)
    # One short of the lock the account still works; one more failure locks it.
    await fail_from(app, addresses[-1], person.email, per_address - 1)
    await person.refresh_from_db()
    assert person.failed_logins == lockout.LOCK_AFTER - 1 and person.locked_at is None
    await fail_from(app, addresses[-1], person.email, 1)
    await person.refresh_from_db()
    assert person.locked_at is not None
    locked = await login_from(app, HOME, person.email)
    assert locked.status_code == 429 and "administrator" in locked.json()["error"]["message"]
    assert await AuditRecord.filter(action="account.lock", actor_id=person.id).count() == 1
    assert (await login_from(app, HOME, "nobody@example.test", "nope")).status_code == 401

    admin = await make.professional(role=Role.ADMIN)
    async with client_for(app, HOME) as client:
        admin_auth = {"authorization": f"Bearer {(await issue_token(admin, 'a'))[1]}"}
        path = f"/api/v1/professionals/{person.id}/unlock"
        assert (await client.post(path, headers=admin_auth)).status_code == 200
    assert (await login_from(app, HOME, person.email)).status_code == 200
    refreshed = await Professional.get(id=person.id)
    assert refreshed.failed_logins == 0 and refreshed.locked_at is None


async def test_wrong_codes_from_one_address_hold_only_that_address(
    app: Starlette, make: Factory
) -> None:
    from tests.mfa_helpers import code, enrolled

    person = await make.professional()
    secret = await enrolled(person)
    wrong = "000000" if code(secret) != "000000" else "111111"
    for _ in range(throttle.FREE_FAILURES):  # someone with the password but not the phone
        refused = await login_from(app, ATTACKER, person.email, code=wrong)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "mfa_failed"
    assert (await login_from(app, ATTACKER, person.email, code=code(secret))).status_code == 429
    assert (await login_from(app, HOME, person.email, code=code(secret))).status_code == 200


async def test_guessing_the_password_with_a_token_is_throttled_too(
    app: Starlette, make: Factory
) -> None:
    person = await make.professional()
    bearer = {"authorization": f"Bearer {(await issue_token(person, 'stolen'))[1]}"}
    async with client_for(app, ATTACKER) as client:
        for _ in range(throttle.FREE_FAILURES):
            guess = await client.post(
                "/api/v1/auth/mfa/enrol", json={"password": "guess"}, headers=bearer
            )
            assert guess.status_code == 422 and guess.json()["error"]["field"] == "password"
        held = await client.post(
            "/api/v1/auth/mfa/enrol", json={"password": PASSWORD}, headers=bearer
        )
        assert held.status_code == 429
    outcomes = AuditRecord.filter(action="password.confirm", actor_id=person.id)
    found: list[Any] = await outcomes.values_list("outcome", flat=True)
    assert found == ["failed"] * 5


def test_the_credential_index_covers_exactly_the_actions_the_throttles_count() -> None:
    """Migration 0033 indexes the credential records by their actions, written out as they
    were then: the planner uses it only while the throttles' `action IN (...)` is that list."""
    migration = importlib.import_module("feeds.migrations.0033_credential_audit_index")
    assert tuple(action.value for action in CREDENTIAL_ACTIONS) == migration.ACTIONS
