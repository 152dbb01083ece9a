"""What changed since I last looked: where each professional last stopped reading each
child's feed (`ChildVisit`), and "My children" on the home page with counts of new posts.

A post is new to someone when it came after the last post they were shown on the child's
newest page, is not removed, and is not their own. A child never opened has no marker:
nothing on its page is marked, and every post by others counts as new on the home page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from feeds import audit, raw_sql
from feeds.access import identity
from feeds.access.policy import (
    IDENTIFYING_IDS_SQL,
    MINE_IDS_SQL,
    VISIBLE_IDS_SQL,
    Action,
    check_child_access,
)
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import NotFound
from feeds.models import Child, ChildVisit, Post, Professional

# Portable upsert (SQLite 3.24+ and PostgreSQL): the marker only ever moves forward.
_NOTE_SQL = (
    "INSERT INTO child_visit (professional_id, child_id, last_seen_post_id, seen_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (professional_id, child_id) DO UPDATE SET "
    "last_seen_post_id = CASE WHEN excluded.last_seen_post_id > child_visit.last_seen_post_id "
    "THEN excluded.last_seen_post_id ELSE child_visit.last_seen_post_id END, "
    "seen_at = excluded.seen_at"
)


async def last_seen(professional_id: int, child_id: int) -> int | None:
    """The last post this professional was shown on the child's feed (None: never opened)."""
    found = await raw_sql.fetch(
        "SELECT last_seen_post_id FROM child_visit WHERE professional_id = $1 AND child_id = $2",
        professional_id,
        child_id,
    )
    return int(found[0][0]) if found else None


async def note_visit(professional_id: int, child_id: int, post_id: int) -> None:
    """Move the marker forward to `post_id` (never back): one upsert."""
    await raw_sql.execute(_NOTE_SQL, professional_id, child_id, post_id, utcnow())


async def seen_then_note(professional_id: int, child_id: int, newest: int | None) -> int | None:
    """The marker as it was, then (when the newest page was shown) moved to its top post."""
    before = await last_seen(professional_id, child_id)
    await note_visit(professional_id, child_id, newest or 0)
    return before


async def do_mark_seen(
    professional: Professional, child_id: int, ctx: AuditContext, post_id: int | None = None
) -> int:
    """Posts up to `post_id` (default: the newest) have been seen, e.g. live posts that
    arrived while the child's page was open. Audited; returns the marker now."""
    async with audit.refusal_recorded(AuditAction.FEED_SEEN, ctx, professional, child_id):
        child = await check_child_access(professional, child_id, Action.VIEW)
    upto = await _shown_post(child, post_id)
    await note_visit(professional.id, child.id, upto)
    await audit.record(
        AuditAction.FEED_SEEN, ctx, actor=professional, child_id=child.id, detail={"post": upto}
    )
    return await last_seen(professional.id, child.id) or 0


async def _shown_post(child: Child, post_id: int | None) -> int:
    shown = Post.filter(child_id=child.id, removed_at__isnull=True)
    if post_id is None:
        newest = await shown.order_by("-id").first()
        return newest.id if newest else 0
    if not await shown.filter(id=post_id).exists():
        raise NotFound("No such post.", field="post_id")
    return post_id


@dataclass(frozen=True)
class MyChild:
    child_id: int
    display_name: str
    reference: str
    last_post_at: datetime | None
    new_posts: int  # since the last visit, not one's own, not removed
    last_visit_at: datetime | None
    flagged: bool  # rising attention (velocity_state)
    gone_quiet: bool  # regular contact stopped (silence_state)
    following: bool  # by the person or one of their teams


# One query for the whole list, whatever its length (no N+1): each correlated subquery
# walks the (child_id, id) index of post. $1 now, $2 the professional.
_FOLLOWED_SQL = (
    "SELECT f.child_id FROM follow f WHERE f.professional_id = $2 UNION "
    "SELECT f.child_id FROM follow f JOIN team_member tm ON tm.team_id = f.team_id "
    "WHERE tm.professional_id = $2"
)
MY_CHILDREN_SQL = (
    "SELECT c.id, c.display_name, c.reference, "  # noqa: S608 - built from constants
    "(SELECT p.created_at FROM post p WHERE p.child_id = c.id AND p.removed_at IS NULL "
    "ORDER BY p.id DESC LIMIT 1), "
    "(SELECT COUNT(*) FROM post p WHERE p.child_id = c.id AND p.removed_at IS NULL "
    "AND p.author_id <> $2 AND p.id > COALESCE(v.last_seen_post_id, 0)), "
    "v.seen_at, COALESCE(vs.flagged, FALSE), COALESCE(ss.flagged, FALSE), "
    f"c.id IN ({_FOLLOWED_SQL}), "
    f"(c.shielded_at IS NULL OR c.id IN ({IDENTIFYING_IDS_SQL})) "  # named, or its label
    "FROM child c LEFT JOIN child_visit v ON v.child_id = c.id AND v.professional_id = $2 "
    "LEFT JOIN velocity_state vs ON vs.child_id = c.id "
    "LEFT JOIN silence_state ss ON ss.child_id = c.id "
    f"WHERE c.id IN ({VISIBLE_IDS_SQL}) AND c.id IN ({MINE_IDS_SQL} UNION {_FOLLOWED_SQL})"
)


def _my_child(row: raw_sql.Row) -> MyChild:
    child_id, name, reference, last_post, new, visited, flagged, quiet, following, named = row
    if not named:  # shielded, and no direct grant: its label (feeds/access/identity.py)
        name, reference = identity.label(int(child_id)), ""
    return MyChild(
        int(child_id),
        name,
        reference,
        raw_sql.python_value(Post, "created_at", last_post) if last_post else None,
        int(new),
        raw_sql.python_value(ChildVisit, "seen_at", visited) if visited else None,
        bool(flagged),
        bool(quiet),
        bool(following),
    )


def _by_new_activity(child: MyChild) -> tuple[bool, float, tuple[bool, str, int]]:
    at = child.last_post_at.timestamp() if child.last_post_at else 0.0
    return (child.new_posts == 0, -at, identity.name_key(child.child_id, child.display_name))


async def my_children(professional: Professional, now: datetime | None = None) -> list[MyChild]:
    """The children this person leads, holds a personal grant on or follows (themselves or
    through a team), while they may see them: those with new posts first, then by last post."""
    if not professional.is_active:
        return []
    rows = await raw_sql.fetch(MY_CHILDREN_SQL, now or utcnow(), professional.id)
    return sorted((_my_child(row) for row in rows), key=_by_new_activity)  # by name as shown
