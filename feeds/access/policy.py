"""The access policy: may this professional do this to this child? Deny by default.

Every route, the websocket, search and export ask this module. What each standing
allows is data in `feeds.access.rules`; this module asks the database which standings
a professional holds, and builds its SQL from the same rules. A professional who may
not see a child gets the same NotFound as for a child that does not exist.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q

from feeds import raw_sql
from feeds.access.rules import (
    IDENTIFYING,
    Action,
    Standing,
    active_grant_sql,
    allows,
    break_glass_live_sql,
    standings_allowing,
    standings_of,
)
from feeds.clock import utcnow
from feeds.errors import Forbidden, NotFound
from feeds.models import BreakGlass, Child, Grant, Professional, TeamMember

__all__ = ["Action", "Standing"]  # re-exported: callers name actions through the policy

REFUSED = {
    Action.MANAGE_GRANTS: "Only the lead professional or a manager can change who has access.",
    Action.REMOVE_POST: "Only the author or a manager can remove a post.",
    Action.READ_AUDIT: "Only the lead professional and managers can read a child's audit.",
    Action.EDIT_OWN_POST: "Emergency access lets you read and post, nothing more.",
    Action.LINK_CHILDREN: "Only the lead or a manager can link a child into a household.",
    Action.MARK_SIGNIFICANT: "Only the post's author or the lead professional can mark it "
    "significant.",
    Action.SHIELD: "Only the lead professional or an administrator can shield a child.",
    Action.EXPORT: "Emergency access lets you read and post, nothing more: no exports.",
}
CHILD_NOT_FOUND = "No such child, or you do not have access to this child."
POST_NOT_FOUND = "No such post, or you do not have access to it."
GRANT_NOT_FOUND = "No such grant, or you do not have access to it."


def active_grant_q(now: datetime) -> Q:
    """`rules.GrantState.is_active` as an ORM filter (a property test holds them equal)."""
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


async def team_ids_of(professional: Professional) -> list[int]:
    found = await TeamMember.filter(professional_id=professional.id).values("team_id")
    return [int(row["team_id"]) for row in found]


# Hand-written, derived from the rules: one arm per standing, each the ids of the children
# where professional $2 holds that standing at $1. Arms are joined by UNION, not one OR:
# each arm uses its index (an OR with the team subquery scanned every grant: 47 ms at
# 178,000 grants).
_LIVE = active_grant_sql("g", "$1")
_DIRECT_ARM = f'SELECT g.child_id FROM "grant" g WHERE g.professional_id = $2 AND {_LIVE}'
_TEAM_ARM = (
    'SELECT g.child_id FROM "grant" g JOIN team_member tm ON tm.team_id = g.team_id '
    f"WHERE tm.professional_id = $2 AND {_LIVE}"
)
_ARMS = {
    Standing.DIRECT_GRANT: _DIRECT_ARM,
    Standing.TEAM_GRANT: _TEAM_ARM,
    Standing.TEAM_MANAGER: f"{_TEAM_ARM} AND tm.is_manager",
    Standing.LEAD: (
        f"SELECT c.id FROM child c WHERE c.lead_professional_id = $2 "
        f"AND c.id IN ({_DIRECT_ARM} UNION {_TEAM_ARM})"
    ),
    Standing.BREAK_GLASS: (
        "SELECT b.child_id FROM break_glass b WHERE b.professional_id = $2 "
        f"AND {break_glass_live_sql('b', '$1')}"
    ),
}
# An arm whose children all come from other arms already in the union is left out.
_COVERED_BY = {
    Standing.LEAD: {Standing.DIRECT_GRANT, Standing.TEAM_GRANT},
    Standing.TEAM_MANAGER: {Standing.TEAM_GRANT},
}


def child_ids_sql(action: Action) -> str:
    """SQL for the ids of the children where professional $2 may `action` at $1."""
    standings = set(standings_allowing(action))
    kept = [s for s in Standing if s in standings and not _covered(s, standings - {s})]
    return " UNION ".join(_ARMS[s] for s in kept)


def _covered(standing: Standing, others: set[Standing]) -> bool:
    cover = _COVERED_BY.get(standing)
    return cover is not None and cover <= others


VISIBLE_IDS_SQL = child_ids_sql(Action.VIEW)
# "My children" on the home page (feeds/feed/visits.py): the children led by, or granted
# personally to, professional $2 at $1; a team's grant alone makes a child the team's.
MINE_IDS_SQL = f"{_ARMS[Standing.DIRECT_GRANT]} UNION {_ARMS[Standing.LEAD]}"
# The shielded children whose name professional $2 may see at $1 (rules.IDENTIFYING; the
# ORM form is feeds/access/identity.py's): for lists read in one query ("My children").
IDENTIFYING_IDS_SQL = " UNION ".join(_ARMS[s] for s in sorted(IDENTIFYING))
# The shielded children whose name professional $2 may NOT see at $1 (id, name, reference):
# what a post's text withholds from them (feeds/access/identity.py `redactor`).
UNIDENTIFIED_SHIELDED_SQL = (
    "SELECT c.id, c.display_name, c.reference FROM child c "
    f"WHERE c.shielded_at IS NOT NULL AND c.id NOT IN ({IDENTIFYING_IDS_SQL})"
)
VISIBLE_CHILDREN_SQL = (
    f"SELECT {{columns}} FROM child c WHERE c.id IN ({VISIBLE_IDS_SQL}) "
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
    holder = Q(professional_id=professional.id)
    teams = await team_ids_of(professional)
    if teams:
        holder |= Q(team_id__in=teams)
    live = Grant.filter(active_grant_q(moment) & holder, expires_at__isnull=False)
    grant = await live.order_by("expires_at").first()
    glass = (
        await BreakGlass.filter(professional_id=professional.id, expires_at__gt=moment)
        .order_by("expires_at")
        .first()
    )
    ends = [g.expires_at for g in (grant, glass) if g is not None and g.expires_at is not None]
    return min(ends) if ends else None


# Hand-written, derived from the rules: every feed read and post asks this, and the ORM's
# query building cost more than the query. $1 the child, $2 now, $3 the professional.
# The facts `rules.standings_of` turns into standings: a direct grant; the best team
# grant (0 none, 1 member, 2 manager); live break-glass; whether they lead the child.
_LIVE_FOR_CHILD = active_grant_sql("g", "$2")
FACTS_SQL = (
    f'EXISTS (SELECT 1 FROM "grant" g WHERE g.child_id = c.id AND g.professional_id = $3 '
    f"AND {_LIVE_FOR_CHILD}), "
    'COALESCE((SELECT MAX(CASE WHEN tm.is_manager THEN 2 ELSE 1 END) FROM "grant" g '
    "JOIN team_member tm ON tm.team_id = g.team_id WHERE g.child_id = c.id "
    f"AND tm.professional_id = $3 AND {_LIVE_FOR_CHILD}), 0), "
    "EXISTS (SELECT 1 FROM break_glass b WHERE b.child_id = c.id AND b.professional_id = $3 "
    f"AND {break_glass_live_sql('b', '$2')}), "
    "c.lead_professional_id = $3"
)
# A record merged into another (feeds/records/merging.py) is absent, whoever asks.
CHILD_STANDINGS_SQL = (
    f"SELECT {{columns}}, {FACTS_SQL} FROM child c WHERE c.id = $1 AND c.merged_into_id IS NULL"
)


def row_standings(row: raw_sql.Row) -> frozenset[Standing]:
    """The standings a CHILD_STANDINGS_SQL row's last four columns give."""
    direct, team, glass, lead = row[-4:]
    return standings_of(
        lead=bool(lead),
        direct=bool(direct),
        team=int(team) >= 1,
        team_manager=int(team) == 2,
        break_glass=bool(glass),
    )


async def child_and_standings(
    professional: Professional, child_id: int
) -> tuple[Child | None, frozenset[Standing]]:
    """The child (None when absent) and the professional's standings around it, in one
    query. An inactive professional stands nowhere."""
    sql = CHILD_STANDINGS_SQL.format(columns=raw_sql.columns(Child, "c"))
    found = await raw_sql.fetch(sql, child_id, utcnow(), professional.id)
    if not found:
        return None, frozenset()
    child = raw_sql.from_row(Child, found[0])
    return child, row_standings(found[0]) if professional.is_active else frozenset()


async def may_view(professional: Professional, child_id: int) -> bool:
    """True when an active grant or break-glass lets this professional see the child."""
    _, standings = await child_and_standings(professional, child_id)
    return allows(standings, Action.VIEW)


async def may(professional: Professional, action: Action, child: Child) -> bool:
    """The policy in one function: True only when a standing allows `action`."""
    _, standings = await child_and_standings(professional, child.id)
    return allows(standings, action)


async def check_child_access(professional: Professional, child_id: int, action: Action) -> Child:
    """The child; NotFound when absent or hidden, Forbidden when visible but not allowed."""
    child, standings = await child_and_standings(professional, child_id)
    if child is None or not allows(standings, Action.VIEW):
        raise NotFound(CHILD_NOT_FOUND)
    if not allows(standings, action):
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


# Hand-written, derived from the rules: the inverse of `child_ids_sql`, one arm per
# standing, each the ids of the people holding that standing around child $1 at $2.
_LIVE_ON_CHILD = active_grant_sql("g", "$2")
_DIRECT_HOLDERS = (
    'SELECT g.professional_id FROM "grant" g WHERE g.child_id = $1 '
    f"AND g.professional_id IS NOT NULL AND {_LIVE_ON_CHILD}"
)
_TEAM_HOLDERS = (
    'SELECT tm.professional_id FROM "grant" g JOIN team_member tm ON tm.team_id = g.team_id '
    f"WHERE g.child_id = $1 AND {_LIVE_ON_CHILD}"
)
_HOLDER_ARMS = {
    Standing.DIRECT_GRANT: _DIRECT_HOLDERS,
    Standing.TEAM_GRANT: _TEAM_HOLDERS,
    Standing.TEAM_MANAGER: f"{_TEAM_HOLDERS} AND tm.is_manager",
    Standing.LEAD: (
        "SELECT c.lead_professional_id FROM child c WHERE c.id = $1 AND "
        f"c.lead_professional_id IN ({_DIRECT_HOLDERS} UNION {_TEAM_HOLDERS})"
    ),
    Standing.BREAK_GLASS: (
        "SELECT b.professional_id FROM break_glass b WHERE b.child_id = $1 "
        f"AND {break_glass_live_sql('b', '$2')}"
    ),
}


def holder_ids_sql(action: Action, *, emergency: bool = True) -> str:
    """SQL for the ids of the active people who may `action` on child $1 at $2; without
    `emergency`, only those whose standing comes from a grant (no break-glass)."""
    standings = set(standings_allowing(action)) - (set() if emergency else {Standing.BREAK_GLASS})
    kept = [s for s in Standing if s in standings and not _covered(s, standings - {s})]
    arms = " UNION ".join(_HOLDER_ARMS[s] for s in kept)
    return f"SELECT p.id FROM professional p WHERE p.is_active AND p.id IN ({arms})"


async def holder_ids(
    child_id: int, action: Action, *, emergency: bool = True, now: datetime | None = None
) -> set[int]:
    """Ids of the active people who may `action` on this child right now."""
    sql = holder_ids_sql(action, emergency=emergency)
    found = await raw_sql.fetch(sql, child_id, now or utcnow())
    return {int(row[0]) for row in found}


# Hand-written, derived from the rules: the people answerable for a child (rules.RESPONSIBLE:
# its lead while they hold a live grant, and the managers of teams holding one), active.
_RESPONSIBLE_SQL = (
    "SELECT p.id FROM professional p WHERE p.is_active AND p.id IN ("
    'SELECT tm.professional_id FROM "grant" g JOIN team_member tm ON tm.team_id = g.team_id '
    f"WHERE g.child_id = $1 AND tm.is_manager AND {_LIVE_FOR_CHILD} "
    "UNION SELECT c.lead_professional_id FROM child c WHERE c.id = $1 AND ("
    f'EXISTS (SELECT 1 FROM "grant" g WHERE g.child_id = c.id '
    f"AND g.professional_id = c.lead_professional_id AND {_LIVE_FOR_CHILD}) "
    'OR EXISTS (SELECT 1 FROM "grant" g JOIN team_member tm ON tm.team_id = g.team_id '
    "WHERE g.child_id = c.id AND tm.professional_id = c.lead_professional_id "
    f"AND {_LIVE_FOR_CHILD}))) ORDER BY p.id"
)


async def responsible_for(child_id: int, now: datetime | None = None) -> list[int]:
    """Ids of the lead professional and team managers around the child, who are told of
    emergency access, flags and requests to join."""
    found = await raw_sql.fetch(_RESPONSIBLE_SQL, child_id, now or utcnow())
    return [int(row[0]) for row in found]
