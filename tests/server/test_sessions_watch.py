"""The once-a-second check for sockets whose session, token or person has ended: exactly
those are named, whatever mix of live and ended credentials the open sockets hold."""

from __future__ import annotations

from datetime import timedelta

from starlette.applications import Starlette

from feeds.clock import utcnow
from feeds.models import ApiToken, Professional, Session
from server.auth import digest, issue_token
from server.live import Subscriber
from server.sessions_watch import ended_subscribers
from tests.conftest import Factory


async def _session(person: Professional, raw: str, **changes: object) -> str:
    now = utcnow()
    await Session.create(
        id=digest(raw),
        professional=person,
        last_seen_at=now,
        expires_at=now + timedelta(hours=8),
        **changes,
    )
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
    subs = [live, live_token, logged_out, expired, revoked_token, missing, deactivated]

    ended = await ended_subscribers(subs)

    assert set(ended) == {logged_out, expired, revoked_token, missing, deactivated}
