"""The access policy: may this professional do this to this child? Deny by default.

Every route, the websocket, search and export ask this module. A professional who may
not see a child gets the same NotFound as for a child that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tortoise.expressions import Q

from feeds import raw_sql
from feeds.clock import utcnow
from feeds.errors import Forbidden, NotFound
from feeds.models import BreakGlass, Child, Grant, Professional, Role, TeamMember


class Action(StrEnum):
    VIEW = "view"  # read the child's record and feed
    POST = "post"  # add to the feed (and edit or remove one's own posts)
    MANAGE_GRANTS = "manage_grants"  # grant and revoke access
    REMOVE_POST = "remove_post"  # remove someone else's post
    READ_AUDIT = "read_audit"  # read who looked at and changed the child's record


# Break-glass gives view and post, nothing more, whatever the holder's role: every other
# action needs an active grant as well as the role the action asks for.
BREAK_GLASS_ACTIONS = frozenset({Action.VIEW, Action.POST})
REFUSED = {
    Action.MANAGE_GRANTS: "Only the lead professional or a manager can change who has access.",
    Action.REMOVE_POST: "Only the author or a manager can remove a post.",
    Action.READ_AUDIT: "Only the lead professional and managers can read a child's audit.",
}
CHILD_NOT_FOUND = "No such child, or you do not have access to this child."
POST_NOT_FOUND = "No such post, or you do not have access to it."
GRANT_NOT_FOUND = "No such grant, or you do not have access to it."


def active_grant_q(now: datetime) -> Q:
    """Grants that are neither revoked nor expired at `now`."""
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


async def team_ids_of(professional: Professional) -> list[int]:
    found = await TeamMember.filter(professional_id=professional.id).values("team_id")
    return [int(row["team_id"]) for row in found]


async def _grant_q(professional: Professional, now: datetime) -> Q:
    teams = await team_ids_of(professional)
    holder = Q(professional_id=professional.id)
    if teams:
        holder |= Q(team_id__in=teams)
    return active_grant_q(now) & holder


# Hand-written: asked on every caseload, board, search and websocket subscription; one
# statement instead of three. $1 now, $2 the professional. Three arms, not one OR: each
# arm uses its index (an OR with the team subquery scanned every grant: 47 ms at 178,000).
_LIVE_GRANT = "g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > $1)"
VISIBLE_IDS_SQL = (
    f'SELECT g.child_id FROM "grant" g WHERE g.professional_id = $2 AND {_LIVE_GRANT} '  # noqa: S608
    f'UNION SELECT g.child_id FROM "grant" g JOIN team_member tm ON tm.team_id = g.team_id '
    f"WHERE tm.professional_id = $2 AND {_LIVE_GRANT} "
    "UNION SELECT b.child_id FROM break_glass b WHERE b.professional_id = $2 "
    "AND b.expires_at > $1"
)
VISIBLE_CHILDREN_SQL = (
    f"SELECT {{columns}} FROM child c WHERE c.id IN ({VISIBLE_IDS_SQL}) "  # noqa: S608
    "ORDER BY c.display_name, c.id"
)


async def visible_child_ids(professional: Professional, now: datetime | None = None) -> set[int]:
    """Ids of every child this professional may see right now."""
    if not professional.is_active:
        return set()
    found = await raw_sql.fetch(VISIBLE_IDS_SQL, now or utcnow(), professional.id)
    return {int(row[0]) for row in found}


async def visible_children(professional: Professional) -> list[Child]:
    """Every child this professional may see right now, by name (one query)."""
    if not professional.is_active:
        return []
    sql = VISIBLE_CHILDREN_SQL.format(columns=raw_sql.columns(Child, "c"))
    return [
        raw_sql.from_row(Child, row) for row in await raw_sql.fetch(sql, utcnow(), professional.id)
    ]


async def next_expiry(professional: Professional, now: datetime | None = None) -> datetime | None:
    """When this professional's visible children next shrink by themselves: the earliest
    end of an active grant or break-glass (None when nothing is due to end)."""
    moment = now or utcnow()
    q = await _grant_q(professional, moment)
    grant = await Grant.filter(q, expires_at__isnull=False).order_by("expires_at").first()
    glass = (
        await BreakGlass.filter(professional_id=professional.id, expires_at__gt=moment)
        .order_by("expires_at")
        .first()
    )
    ends = [g.expires_at for g in (grant, glass) if g is not None and g.expires_at is not None]
    return min(ends) if ends else None


# Hand-written: every feed read and post asks this, and the ORM's query building cost
# more than the query. $1 the child, $2 now, $3 the professional: an active grant to
# them or to one of their teams, or (to view and post) an active break-glass.
ALLOWED_SQL = (
    '(EXISTS (SELECT 1 FROM "grant" g WHERE g.child_id = $1 AND g.revoked_at IS NULL '
    "AND (g.expires_at IS NULL OR g.expires_at > $2) AND (g.professional_id = $3 "
    "OR g.team_id IN (SELECT tm.team_id FROM team_member tm WHERE tm.professional_id = $3))) "
    "OR EXISTS (SELECT 1 FROM break_glass b WHERE b.child_id = $1 "
    "AND b.professional_id = $3 AND b.expires_at > $2))"
)
CHILD_ACCESS_SQL = f"SELECT {{columns}}, {ALLOWED_SQL} FROM child c WHERE c.id = $1"  # noqa: S608


async def may_view(professional: Professional, child_id: int) -> bool:
    """True when an active grant or break-glass lets this professional see the child."""
    if not professional.is_active:
        return False
    found = await raw_sql.fetch(f"SELECT {ALLOWED_SQL}", child_id, utcnow(), professional.id)
    return bool(found[0][0])


def role_allows(professional: Professional, action: Action, child: Child) -> bool:
    """The role part of the policy: who may do what to a child they hold a grant for."""
    if action in BREAK_GLASS_ACTIONS:
        return True
    if action is Action.REMOVE_POST:
        return professional.role == Role.MANAGER
    # MANAGE_GRANTS, READ_AUDIT: the child's lead professional and managers.
    return child.lead_professional_id == professional.id or professional.role == Role.MANAGER


async def may(professional: Professional, action: Action, child: Child) -> bool:
    """The policy in one function: True only when an active grant (or, to view and post,
    an active break-glass) allows `action`."""
    return await may_view(professional, child.id) and await may_act_when_visible(
        professional, action, child
    )


async def may_act_when_visible(professional: Professional, action: Action, child: Child) -> bool:
    """The rest of the policy once may_view has said yes (so it is not asked twice)."""
    if action in BREAK_GLASS_ACTIONS:
        return True
    if not role_allows(professional, action, child):
        return False
    q = await _grant_q(professional, utcnow())
    return await Grant.filter(q, child_id=child.id).exists()  # break-glass is not enough


async def _visible_child(professional: Professional, child_id: int) -> Child | None:
    """The child when it exists and may_view allows it, in one query; else None."""
    sql = CHILD_ACCESS_SQL.format(columns=raw_sql.columns(Child, "c"))
    found = await raw_sql.fetch(sql, child_id, utcnow(), professional.id)
    if not found or not found[0][-1] or not professional.is_active:
        return None
    return raw_sql.from_row(Child, found[0])


async def check_child_access(professional: Professional, child_id: int, action: Action) -> Child:
    """The child; NotFound when absent or hidden, Forbidden when visible but not allowed."""
    child = await _visible_child(professional, child_id)
    if child is None:
        raise NotFound(CHILD_NOT_FOUND)
    if not await may_act_when_visible(professional, action, child):
        raise Forbidden(REFUSED.get(action, "You may not do this to this child's record."))
    return child


async def check_item_access(
    professional: Professional, child_id: int, action: Action, not_found: str
) -> Child:
    """For a post or grant reached by its own id: its child, under `action`. A hidden one
    gets NotFound(not_found), the answer for one that does not exist, so ids reveal nothing."""
    try:
        return await check_child_access(professional, child_id, action)
    except NotFound:
        raise NotFound(not_found) from None
