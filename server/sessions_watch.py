"""Which open websockets belong to sessions or tokens that have ended (logout, logout
everywhere, expiry, deactivation)? Checked by the live hub about once a second."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tortoise.expressions import Q

from feeds.clock import utcnow
from feeds.models import ApiToken, Professional, Session

if TYPE_CHECKING:
    from server.live import Subscriber


async def _live_session_ids(ids: set[str]) -> set[str]:
    if not ids:
        return set()
    rows = await Session.filter(
        id__in=ids, revoked_at__isnull=True, expires_at__gt=utcnow()
    ).values("id")
    return {str(row["id"]) for row in rows}


async def _live_token_hashes(hashes: set[str]) -> set[str]:
    if not hashes:
        return set()
    rows = await ApiToken.filter(token_hash__in=hashes, revoked_at__isnull=True).values(
        "token_hash"
    )
    return {str(row["token_hash"]) for row in rows}


async def _active_people(ids: set[int]) -> set[int]:
    if not ids:
        return set()
    rows = await Professional.filter(Q(id__in=ids) & Q(is_active=True)).values("id")
    return {int(row["id"]) for row in rows}


async def ended_subscribers(subscribers: Iterable[Subscriber]) -> list[Subscriber]:
    subs = list(subscribers)
    sessions = await _live_session_ids({s.session_id for s in subs if s.session_id})
    tokens = await _live_token_hashes({s.token_hash for s in subs if s.token_hash})
    people = await _active_people({s.user_id for s in subs})
    return [
        s
        for s in subs
        if s.user_id not in people
        or (s.session_id is not None and s.session_id not in sessions)
        or (s.token_hash is not None and s.token_hash not in tokens)
    ]
