"""Which open websockets belong to sessions or tokens that have ended (logout, logout
everywhere, expiry, the idle limit, deactivation)? Checked by the live hub about once a second.

A session past its idle limit (settings.session_idle, as server/auth.py enforces on every
HTTP request) has ended for its sockets too. Socket traffic is not activity: an open socket
neither moves `last_seen_at` nor is counted as a sign of life, since an unattended screen
still showing live posts is exactly what the idle limit is for.

The check runs every second whatever else happens, so its cost per open socket is paid by
every idle socket: one statement counts the live sessions, tokens and people among those
the sockets hold, each list sent as one parameter (not a placeholder per socket, which
cost the ORM tens of milliseconds of query building a second at 5,000 sockets); only when
a count falls short does a second read find which ones ended.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.connection import get_connection

from feeds import raw_sql
from feeds.clock import utcnow
from feeds.models import Session
from server import auth

if TYPE_CHECKING:
    from server.live import Subscriber

# `column IN <a list parameter>`, as each database takes a list in one parameter.
_IN_LIST = {
    "postgres": "= ANY({p}::{type}[])",
    "sqlite": "IN (SELECT value FROM json_each({p}))",
}
# The live rows among those held; {sessions} {tokens} {people} are list parameters.
_LIVE_SESSIONS = (
    "SELECT id FROM session WHERE id {sessions} AND revoked_at IS NULL AND expires_at > {now} "
    "AND last_seen_at >= {idle_since}"
)
NO_IDLE_LIMIT = datetime(1970, 1, 1, tzinfo=UTC)  # seen since then: every session
_LIVE_TOKENS = "SELECT token_hash FROM api_token WHERE token_hash {tokens} AND revoked_at IS NULL"
_LIVE_PEOPLE = "SELECT id FROM professional WHERE id {people} AND is_active"


def _in_list(dialect: str, number: int, type_: str) -> str:
    return _IN_LIST[dialect].format(p=f"${number}", type=type_)


def _live_sql(dialect: str) -> tuple[str, str, str]:
    """Each live-rows read on its own: its parameters numbered from $1."""
    return (
        _LIVE_SESSIONS.format(sessions=_in_list(dialect, 1, "text"), now="$2", idle_since="$3"),
        _LIVE_TOKENS.format(tokens=_in_list(dialect, 1, "text")),
        _LIVE_PEOPLE.format(people=_in_list(dialect, 1, "int")),
    )


def _count_sql(dialect: str) -> str:
    """The three counts in one statement: sessions $1, tokens $2, people $3, now $4,
    idle_since $5."""
    reads = (
        _LIVE_SESSIONS.format(sessions=_in_list(dialect, 1, "text"), now="$4", idle_since="$5"),
        _LIVE_TOKENS.format(tokens=_in_list(dialect, 2, "text")),
        _LIVE_PEOPLE.format(people=_in_list(dialect, 3, "int")),
    )
    counts = (f"(SELECT count(*) FROM ({sql}) AS live)" for sql in reads)  # noqa: S608 - constants
    return "SELECT " + ", ".join(counts)


def _dialect() -> str:
    postgres = get_connection("default").capabilities.dialect == "postgres"
    return "postgres" if postgres else "sqlite"


def _as_param(values: set[Any], dialect: str) -> Any:
    return list(values) if dialect == "postgres" else json.dumps(list(values))


async def _live(
    held: tuple[set[str], set[str], set[int]], dialect: str, now: Any, idle_since: Any
) -> list[set[Any]]:
    """Which of the held sessions, tokens and people are live now."""
    extra: tuple[tuple[Any, ...], ...] = ((now, idle_since), (), ())
    lists: tuple[set[Any], ...] = held
    found = []
    for sql, values, more in zip(_live_sql(dialect), lists, extra, strict=True):
        rows = await raw_sql.fetch(sql, _as_param(values, dialect), *more) if values else []
        found.append({row[0] for row in rows})
    return found


async def ended_subscribers(
    subscribers: Iterable[Subscriber], idle: timedelta | None = None
) -> list[Subscriber]:
    """The sockets whose session or token has ended (with `idle`, a session unused for
    longer has ended too), or whose person is no longer active."""
    subs = list(subscribers)
    if not subs:
        return []
    held = (
        {s.session_id for s in subs if s.session_id},
        {s.token_hash for s in subs if s.token_hash},
        {s.user_id for s in subs},
    )
    dialect = _dialect()
    at = utcnow()
    now = raw_sql.db_value(Session, "expires_at", at)
    seen_since = auth.idle_since(at, idle) if idle else NO_IDLE_LIMIT
    idle_since = raw_sql.db_value(Session, "last_seen_at", seen_since)
    params = [*(_as_param(values, dialect) for values in held), now, idle_since]
    counts = (await raw_sql.fetch(_count_sql(dialect), *params))[0]
    if tuple(int(n) for n in counts) == tuple(len(values) for values in held):
        return []  # the usual second: everything the sockets hold is still live
    sessions, tokens, people = await _live(held, dialect, now, idle_since)
    return [
        s
        for s in subs
        if s.user_id not in people
        or (s.session_id is not None and s.session_id not in sessions)
        or (s.token_hash is not None and s.token_hash not in tokens)
    ]
