"""Ending what a person signed in with: every session, access token and sign-in link.

A password change or a new authenticator ends them all (ASVS 7.4.3): whoever held an old
credential must prove the new one. Their open websockets close with them (the live hub
watches for ended sessions and tokens, server/sessions_watch.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from feeds.accounts.sign_in_link_model import SignInLink
from feeds.clock import utcnow
from feeds.models import ApiToken, Professional, Session


@dataclass(frozen=True)
class Ended:
    sessions: int = 0
    tokens: int = 0
    links: int = 0


async def end_credentials(person: Professional) -> Ended:
    """Revoke every open session, access token and unused sign-in link of `person` (inside
    the caller's transaction, when there is one)."""
    now = utcnow()
    sessions = await Session.filter(professional_id=person.id, revoked_at__isnull=True).update(
        revoked_at=now
    )
    tokens = await ApiToken.filter(professional_id=person.id, revoked_at__isnull=True).update(
        revoked_at=now
    )
    links = await SignInLink.filter(
        professional_id=person.id, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    return Ended(sessions, tokens, links)
