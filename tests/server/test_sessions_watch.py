"""The once-a-second check for sockets whose session, token or person has ended: exactly
those are named, whatever mix of live and ended credentials the open sockets hold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.applications import Starlette

from feeds.clock import utcnow
from feeds.models import ApiToken, Professional, Session
from server.auth import digest, issue_token
from server.live import Subscriber
from server.sessions_watch import ended_subscribers
from tests.conftest import Factory

IDLE = timedelta(minutes=30)


async def _session(person: Professional, raw: str, **changes: object) -> str:
    now = utcnow()
    fields: dict[str, Any] = {
        "last_seen_at": now,
        "expires_at": now + timedelta(hours=8),
        **changes,
    }
    await Session.create(id=digest(raw), professional=person, **fields)
    return digest(raw)


async def _token(person: Professional) -> str:
    return digest((await issue_token(person, "phone"))[1])


async def test_sockets_whose_credentials_all_live_are_left_open(
    app: Starlette, make: Factory
) -> None:
    people = [await make.practitioner() for _ in range(3)]
    subs = [Subscriber(p.id, session_id=await _session(p, f"s{p.id}")) for p in people]
    subs += [Subscriber(p.id, token_hash=await _token(p)) for p in people]
    assert await ended_subscribers(subs) == []
    assert await ended_subscribers([]) == []


async def test_exactly_the_sockets_of_ended_sessions_tokens_and_people_are_named(
    app: Starlette, make: Factory
) -> None:
    alice, bob, gone = [await make.practitioner() for _ in range(3)]
    live = Subscriber(alice.id, session_id=await _session(alice, "a-live"))
    live_token = Subscriber(alice.id, token_hash=await _token(alice))
    logged_out = Subscriber(
        alice.id, session_id=await _session(alice, "a-out", revoked_at=utcnow())
    )
    expired = Subscriber(bob.id, session_id=await _session(bob, "b-old"))
    await Session.filter(id=expired.session_id).update(expires_at=utcnow() - timedelta(seconds=1))
    revoked_token = Subscriber(bob.id, token_hash=await _token(bob))
    await ApiToken.filter(token_hash=revoked_token.token_hash).update(revoked_at=utcnow())
    missing = Subscriber(bob.id, session_id=digest("never stored"))
    deactivated = Subscriber(gone.id, token_hash=await _token(gone))
    await Professional.filter(id=gone.id).update(is_active=False)
    idle_for = utcnow() - IDLE - timedelta(seconds=1)
    idle = Subscriber(bob.id, session_id=await _session(bob, "b-idle", last_seen_at=idle_for))
    subs = [live, live_token, logged_out, expired, revoked_token, missing, deactivated, idle]

    ended = await ended_subscribers(subs, IDLE)

    assert set(ended) == {logged_out, expired, revoked_token, missing, deactivated, idle}
    # Without an idle limit (a hub built without one) the idle session's socket stays.
    assert idle not in await ended_subscribers(subs)


async def test_a_session_just_inside_its_idle_limit_keeps_its_socket(
    app: Starlette, make: Factory
) -> None:
    person = await make.practitioner()
    almost = utcnow() - IDLE + timedelta(seconds=30)
    sub = Subscriber(person.id, session_id=await _session(person, "nearly", last_seen_at=almost))
    assert await ended_subscribers([sub], IDLE) == []
