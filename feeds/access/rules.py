"""The access rules as data: who stands where around a child, and what each standing allows.

Standard library only. `feeds.access.policy` asks the database which standings a
professional holds and derives its SQL from these tables; nothing else decides.

A professional's standings around one child (several can hold at once):
- LEAD: the child's lead professional, while they also hold a live grant;
- DIRECT_GRANT / TEAM_GRANT: a live grant to them, or to a team they belong to;
- TEAM_MANAGER: a manager (team member with `is_manager`) of a team holding a live grant;
- BREAK_GLASS: emergency access that has not yet ended.
Administrators have no standing from their role: they see a child only through a grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Action(StrEnum):
    VIEW = "view"  # read the record and feed, follow it, search it, be told of it
    POST = "post"  # add to the feed
    EDIT_OWN_POST = "edit_own_post"  # correct one's own post (revisions are kept)
    REMOVE_POST = "remove_post"  # remove someone else's post (one's own: EDIT_OWN_POST)
    MANAGE_GRANTS = "manage_grants"  # grant and revoke access
    READ_AUDIT = "read_audit"  # who looked at and changed this child's record
    EXPORT = "export"  # take the record away: CSV, PDF
    LINK_CHILDREN = "link_children"  # households and merges
    EDIT_WHEREABOUTS = "edit_whereabouts"  # the child's school and area on its record
    # Mark any post significant for the chronology, with action taken and outcome (its
    # author may mark their own post: EDIT_OWN_POST).
    MARK_SIGNIFICANT = "mark_significant"
    # Shield the child (a family in a refuge, an adoption in progress): its name and
    # reference only for direct personal grants (administrators may too, by their role).
    SHIELD = "shield"


class Standing(StrEnum):
    LEAD = "lead"
    DIRECT_GRANT = "direct_grant"
    TEAM_GRANT = "team_grant"
    TEAM_MANAGER = "team_manager"
    BREAK_GLASS = "break_glass"


_WORKING = frozenset({Action.VIEW, Action.POST, Action.EDIT_OWN_POST, Action.EXPORT})
_MANAGING = frozenset(Action)

PERMISSIONS: dict[Standing, frozenset[Action]] = {
    # The lead runs the team around the child; removing colleagues' posts stays with
    # their managers.
    Standing.LEAD: _MANAGING - {Action.REMOVE_POST},
    # Marking others' posts significant is the lead's (issue 17: "its author or the lead
    # professional").
    # Shielding is the lead's: a manager role gives no sight of a shielded child's identity.
    Standing.TEAM_MANAGER: _MANAGING - {Action.MARK_SIGNIFICANT, Action.SHIELD},
    Standing.DIRECT_GRANT: _WORKING,
    Standing.TEAM_GRANT: _WORKING,
    # Emergency access reads and posts, nothing more (TRUST.md: never removal, granting
    # or audit reading, whatever the holder's role).
    Standing.BREAK_GLASS: frozenset({Action.VIEW, Action.POST}),
}

# Managers of the teams around a child, and its lead, are told of what happens to it:
# emergency access, flags, requests to join.
RESPONSIBLE = frozenset({Standing.LEAD, Standing.TEAM_MANAGER})


# Who sees a shielded child's name and reference: a direct personal grant only (the lead
# through their own grant); team grants, manager roles and break-glass see "Shielded child".
IDENTIFYING = frozenset({Standing.DIRECT_GRANT})


def sees_identity(standings: frozenset[Standing] | set[Standing], shielded: bool) -> bool:
    """True when these standings show the child's identifiers (always, unless shielded)."""
    return not shielded or bool(IDENTIFYING & set(standings))


def allows(standings: frozenset[Standing] | set[Standing], action: Action) -> bool:
    """True when any of the standings allows the action (deny by default)."""
    return any(action in PERMISSIONS[standing] for standing in standings)


def standings_of(
    *, lead: bool, direct: bool, team: bool, team_manager: bool, break_glass: bool
) -> frozenset[Standing]:
    """The standings these facts give. A lead without a live grant (direct or through a
    team) is no lead: at most break-glass remains."""
    held = {
        Standing.LEAD: lead and (direct or team),
        Standing.DIRECT_GRANT: direct,
        Standing.TEAM_GRANT: team,
        Standing.TEAM_MANAGER: team_manager,
        Standing.BREAK_GLASS: break_glass,
    }
    return frozenset(standing for standing, holds in held.items() if holds)


def standings_allowing(action: Action) -> tuple[Standing, ...]:
    """The standings that allow `action`, in a fixed order (SQL is built from them)."""
    return tuple(standing for standing in Standing if action in PERMISSIONS[standing])


@dataclass(frozen=True)
class GrantState:
    """What decides whether a grant is live: the one definition of an active grant."""

    revoked_at: datetime | None
    expires_at: datetime | None

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def active_grant_sql(alias: str, now: str) -> str:
    """The same rule as `GrantState.is_active`, as SQL over grant alias `alias` at `now`."""
    return (
        f"{alias}.revoked_at IS NULL AND ({alias}.expires_at IS NULL OR {alias}.expires_at > {now})"
    )


def break_glass_live_sql(alias: str, now: str) -> str:
    """Emergency access lasts until it expires (it cannot be revoked early)."""
    return f"{alias}.expires_at > {now}"
