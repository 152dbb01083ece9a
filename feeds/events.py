"""The event log: written in the same transaction as the change it describes.

An event carries ids (which post, which notification, what kind of change), never a
copy of content: what a socket receives is rendered at send time by feeds/event_views.py.

Live updates and websocket replay read it in id order (see server/live.py). On
PostgreSQL each event also sends `NOTIFY jigsaw_events, ''` inside the same transaction,
so listeners in every worker hear of it exactly when it commits. The payload is empty on
purpose: PostgreSQL folds identical notifications of one transaction into one, so a
transaction emitting many events sends one wake-up (NOTIFY serialises commits on a
cluster-wide lock), and no data, not even an id, travels. Listeners read the log.
In one process (SQLite), `wake_listeners()` after the commit does the same job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from feeds import bulk_sql, raw_sql
from feeds.clock import utcnow
from feeds.models import Event

POST_CREATED = "post.created"
POST_EDITED = "post.edited"
POST_REMOVED = "post.removed"
POST_ACKNOWLEDGED = "post.acknowledged"
WORRY_SHARED = "post.worry_shared"  # someone shares the worry of a hunch or concern
MENTION = "mention"
NOTIFICATION = "notification"
GRANT_CHANGED = "grant.changed"
FOLLOW_CHANGED = "follow.changed"
VELOCITY_CHANGED = "velocity.changed"  # a child became flagged, or stopped being
VELOCITY_UPDATED = "velocity.updated"  # its score or board row moved, flag unchanged
CHILD_ENTRY = "child.entry"  # a system entry in a child's feed (an agency is now involved)

NOTIFY_CHANNEL = "jigsaw_events"

_listeners: list[Callable[[], None]] = []


def add_listener(callback: Callable[[], None]) -> None:
    """Call `callback` (cheap, non-blocking) after any change that emitted events commits."""
    _listeners.append(callback)


def remove_listener(callback: Callable[[], None]) -> None:
    if callback in _listeners:
        _listeners.remove(callback)


async def latest_event_id() -> int:
    """The newest event's id (0 when there is none): where a listener or page starts."""
    found = await raw_sql.fetch("SELECT MAX(id) FROM event")
    return int(found[0][0] or 0)


# Hand-written: every worker's hub reads this once per committed event, and the ORM's
# query building cost more CPU than the statement.
_AFTER_SQL = "SELECT {columns} FROM event e WHERE e.id > $1 ORDER BY e.id LIMIT $2"


async def events_after(position: int, limit: int) -> list[Event]:
    """The next `limit` events after id `position`, in id order."""
    sql = _AFTER_SQL.format(columns=raw_sql.columns(Event, "e"))
    return [raw_sql.from_row(Event, row) for row in await raw_sql.fetch(sql, position, limit)]


async def last_event_before(moment: datetime) -> int:
    """The newest id among the events created before `moment` (0 when there is none):
    where a reader starts that must look back over the last few seconds."""
    found = await Event.filter(created_at__lt=moment).order_by("-id").limit(1).values_list("id")
    return int(found[0][0]) if found else 0


def wake_listeners() -> None:
    """Tell in-process listeners that new events were committed."""
    for callback in list(_listeners):
        callback()


# Hand-written: the row and, on PostgreSQL, its NOTIFY in one round trip (the ORM's
# insert and a separate SELECT pg_notify were two, on every post).
_EMIT_SQL = (
    "INSERT INTO event (created_at, type, child_id, recipient_id, payload) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING id"
)
_NOTIFY = f", pg_notify('{NOTIFY_CHANNEL}', '')"  # '' folds: one wake-up per transaction


async def emit(
    type_: str, payload: dict[str, Any], *, child_id: int | None, recipient_id: int | None = None
) -> Event:
    """Append one event (inside the caller's transaction); its id orders it for replay."""
    postgres = get_connection("default").capabilities.dialect == "postgres"
    created_at = utcnow()
    stored = raw_sql.db_value(Event, "payload", payload)
    event_id = await raw_sql.insert(
        _EMIT_SQL + _NOTIFY if postgres else _EMIT_SQL,
        *(created_at, type_, child_id, recipient_id, stored),
    )
    return raw_sql.saved(
        Event,
        id=event_id,
        created_at=created_at,
        type=type_,
        child_id=child_id,
        recipient_id=recipient_id,
        payload=payload,
    )


@asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """A database transaction that wakes in-process listeners once it has committed."""
    async with in_transaction():
        yield
    wake_listeners()


async def emit_many(
    items: Sequence[tuple[str, Mapping[str, Any], int | None, int | None]],
) -> None:
    """Append many events (type, payload, child_id, recipient_id) in few statements, inside
    the caller's transaction (bulk imports, a catch-up pass's board re-ranks); on PostgreSQL
    one NOTIFY wakes the listeners, who read every event after their position."""
    if not items:
        return
    created_at = utcnow()
    rows = [
        (created_at, type_, child_id, recipient_id, raw_sql.db_value(Event, "payload", payload))
        for type_, payload, child_id, recipient_id in items
    ]
    columns = ("created_at", "type", "child_id", "recipient_id", "payload")
    found = await bulk_sql.insert_rows("event", columns, rows, returning=("id",))
    if get_connection("default").capabilities.dialect == "postgres":
        last = max(int(row["id"]) for row in found)
        await raw_sql.fetch(f"SELECT pg_notify('{NOTIFY_CHANNEL}', $1)", str(last))
