"""A new agency around a child: its first grant (to one of its people or one of its teams)
or its first post puts a system entry in the child's feed, tells the lead professional and
emits an event, all in the transaction of that grant or post.

"First" means ever: an agency that held a grant or posted before (even before this was
built) arrives quietly, its entry dated when it first appeared, with no notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feeds import events, raw_sql
from feeds.access.policy import Action, check_child_access
from feeds.clock import utcnow
from feeds.feed.notifications import do_notify
from feeds.models import Child, Professional
from feeds.network.models import ChildEvent, EntryKind

NOTIFICATION_KIND = "agency_involved"

# Hand-written: when the agency was first around the child, leaving out the grant or post
# being written now ($3, $4; 0 for none). UNION ALL of three indexed lookups by child.
_EARLIER_SQL = (
    "SELECT MIN(t) FROM ("
    'SELECT g.created_at AS t FROM "grant" g JOIN professional p ON p.id = g.professional_id '
    "WHERE g.child_id = $1 AND p.agency_id = $2 AND g.id <> $3 "
    'UNION ALL SELECT g.created_at FROM "grant" g JOIN team t ON t.id = g.team_id '
    "WHERE g.child_id = $1 AND t.agency_id = $2 AND g.id <> $3 "
    "UNION ALL SELECT po.created_at FROM post po JOIN professional p ON p.id = po.author_id "
    "WHERE po.child_id = $1 AND p.agency_id = $2 AND po.id <> $4) x"
)
# Hand-written: every post asks it, and the ORM's query building cost more than the query.
_KNOWN_SQL = "SELECT 1 FROM child_event WHERE child_id = $1 AND kind = $2 AND agency_id = $3"
_INSERT_SQL = (
    "INSERT INTO child_event (child_id, kind, agency_id, actor_id, created_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id"
)

# Every agency around every child, dated when it first came (for data written in bulk:
# the demo, and migration 0012 keeps a frozen copy). `WHERE 1 = 1` keeps SQLite's parser
# from reading ON CONFLICT as a join constraint.
BACKFILL_SQL = (
    "INSERT INTO child_event (child_id, kind, agency_id, actor_id, created_at) "
    "SELECT child_id, 'agency_involved', agency_id, NULL, MIN(t) FROM ("
    'SELECT g.child_id, p.agency_id, g.created_at AS t FROM "grant" g '
    "JOIN professional p ON p.id = g.professional_id "
    'UNION ALL SELECT g.child_id, t.agency_id, g.created_at FROM "grant" g '
    "JOIN team t ON t.id = g.team_id "
    "UNION ALL SELECT po.child_id, p.agency_id, po.created_at FROM post po "
    "JOIN professional p ON p.id = po.author_id"
    ") x WHERE 1 = 1 GROUP BY child_id, agency_id ON CONFLICT DO NOTHING"
)


async def backfill_entries() -> None:
    """Quietly record every agency already around a child (no events, no notifications)."""
    await raw_sql.fetch(BACKFILL_SQL)


async def _first_seen(
    child_id: int, agency_id: int, grant_id: int, post_id: int
) -> datetime | None:
    found = await raw_sql.fetch(_EARLIER_SQL, child_id, agency_id, grant_id, post_id)
    value = found[0][0] if found else None
    return None if value is None else raw_sql.python_value(ChildEvent, "created_at", value)


async def do_note_agency(
    child_id: int,
    agency_id: int,
    actor_id: int | None,
    *,
    grant_id: int | None = None,
    post_id: int | None = None,
) -> int | None:
    """Inside the caller's transaction (a grant or a post by `actor_id`): when the agency
    is new around the child, write its entry, emit its event and tell the lead. Returns the
    new entry's id, or None when the agency was already known."""
    kind = EntryKind.AGENCY_INVOLVED
    if await raw_sql.fetch(_KNOWN_SQL, child_id, kind.value, agency_id):
        return None  # the common case: one indexed lookup per post
    earlier = await _first_seen(child_id, agency_id, grant_id or 0, post_id or 0)
    at = earlier or utcnow()
    params = (child_id, kind.value, agency_id, None if earlier else actor_id, at)
    entry_id = await raw_sql.insert_or_none(_INSERT_SQL, *params)
    if earlier is not None or entry_id is None:
        return None  # known before, or a concurrent grant or post wrote the entry first
    await events.emit(events.CHILD_ENTRY, {"child_event_id": entry_id}, child_id=child_id)
    rows = await Child.filter(id=child_id).values("lead_professional_id")
    lead = rows[0]["lead_professional_id"] if rows else None
    if lead is not None and lead != actor_id:
        await do_notify(int(lead), NOTIFICATION_KIND, child_id, actor_id=actor_id)
    return int(entry_id)


@dataclass(frozen=True)
class Window:
    """The stretch of a feed a page shows: entries after `since` up to `until` (None: open)."""

    since: datetime | None = None
    until: datetime | None = None


async def system_entries(
    viewer: Professional, child_id: int, window: Window = Window()
) -> list[ChildEvent]:
    """The child's system entries in the window, newest first (agency loaded)."""
    await check_child_access(viewer, child_id, Action.VIEW)
    query = ChildEvent.filter(child_id=child_id)
    if window.since is not None:
        query = query.filter(created_at__gte=window.since)
    if window.until is not None:
        query = query.filter(created_at__lt=window.until)
    return await query.order_by("-created_at", "-id").select_related("agency")


# Household entries never name the other children: a reader of this feed may not see them.
HOUSEHOLD_TEXTS = {
    EntryKind.HOUSEHOLD_JOINED: "Linked into a household with other children",
    EntryKind.HOUSEHOLD_LEFT: "Unlinked from their household",
    EntryKind.SIBLING_JOINED: "Another child was linked into this household",
    EntryKind.SIBLING_LEFT: "A child was unlinked from this household",
}


def entry_text(entry: ChildEvent) -> str:
    """What the feed says, e.g. "Northgate Primary School (education) is now involved"."""
    if (household := HOUSEHOLD_TEXTS.get(EntryKind(entry.kind))) is not None:
        return household
    agency = entry.agency
    if agency is None:
        return "An agency is now involved"
    return f"{agency.name} ({str(agency.sector).replace('_', ' ')}) is now involved"


def entry_view(entry: ChildEvent) -> dict[str, Any]:
    """Needs entry.agency loaded."""
    agency = entry.agency
    return {
        "id": entry.id,
        "child_id": entry.child_id,
        "kind": str(entry.kind),
        "created_at": entry.created_at.isoformat(),
        "agency": None
        if agency is None
        else {"id": agency.id, "name": agency.name, "sector": str(agency.sector)},
        "text": entry_text(entry),
    }
