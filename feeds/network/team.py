"""The team around the child, as a picture (issue 16 part 3): each agency involved and
who from it holds access, since when, their last post about the child, access ending
soon or lately expired, how to reach them, and the agencies that have gone quiet
(the silence verdict, feeds/silence). Only for those who may view the child."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from feeds import audit, raw_sql
from feeds.access import identity
from feeds.access.ending import SOON
from feeds.access.policy import Action, active_grant_q, check_child_access
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.models import Agency, Child, Grant, Professional, SilenceState, TeamMember
from feeds.velocity.tallies import moment

RECENTLY_EXPIRED = timedelta(days=30)  # expired access still shown, to be renewed or let go
Access = Literal["active", "ending_soon", "expired"]

# Each author's last post about the child, with the agency they post for.
_LAST_POSTS_SQL = (
    "SELECT p.author_id, a.name, MAX(p.created_at) FROM post p "
    "JOIN professional r ON r.id = p.author_id JOIN agency a ON a.id = r.agency_id "
    "WHERE p.child_id = $1 AND p.removed_at IS NULL GROUP BY p.author_id, a.name"
)


@dataclass(frozen=True)
class Person:
    """Someone in the team and how to reach them."""

    id: int
    name: str
    job_title: str
    work_phone: str
    work_email: str
    last_post_at: datetime | None


@dataclass(frozen=True)
class Holder:
    """One holder of access: a professional (people is just them) or a team (its members)."""

    grant_id: int
    type: Literal["professional", "team"]
    id: int
    name: str
    job_title: str
    since: datetime | None
    expires_at: datetime | None
    access: Access
    last_post_at: datetime | None
    people: tuple[Person, ...]


@dataclass(frozen=True)
class AgencyGroup:
    name: str
    sector: str
    gone_quiet: bool
    quiet_reason: str  # "school posted about every 7 days for 13 weeks; nothing for 23 days"
    last_post_at: datetime | None
    holders: tuple[Holder, ...]


@dataclass(frozen=True)
class TeamPicture:
    child: Child
    agencies: tuple[AgencyGroup, ...]  # gone quiet first, then by name
    at: datetime


async def do_read_team(
    viewer: Professional, child_id: int, ctx: AuditContext, now: datetime | None = None
) -> TeamPicture:
    """`team_picture`, audited as a read of the child's record (refusals too)."""
    async with audit.refusal_recorded(AuditAction.CHILD_TEAM, ctx, viewer, child_id):
        picture = await team_picture(viewer, child_id, now)
    await audit.record(AuditAction.CHILD_TEAM, ctx, actor=viewer, child_id=child_id)
    return picture


async def team_picture(
    viewer: Professional, child_id: int, now: datetime | None = None
) -> TeamPicture:
    """The picture, for someone who may view the child (NotFound otherwise)."""
    child = await identity.seen_child(
        viewer, await check_child_access(viewer, child_id, Action.VIEW)
    )
    now = now or utcnow()
    holders = await _holders(child.id, now)
    last_by_author, last_by_agency = await _last_posts(child.id)
    quiet = await _quiet(child.id)
    grouped: dict[str, list[Holder]] = defaultdict(list)
    agency_of: dict[str, Agency] = {}
    for grant, agency in holders:
        agency_of[agency.name] = agency
        grouped[agency.name].append(await _holder(grant, now, last_by_author))
    for name in quiet.keys() - grouped.keys():
        grouped[name] = []  # gone quiet with nobody holding access now
    sectors = await _sectors(grouped.keys() - agency_of.keys(), agency_of)
    groups = [
        AgencyGroup(
            name=name,
            sector=sectors.get(name, ""),
            gone_quiet=name in quiet,
            quiet_reason=quiet.get(name, ""),
            last_post_at=last_by_agency.get(name),
            holders=tuple(members),
        )
        for name, members in grouped.items()
    ]
    groups.sort(key=lambda g: (not g.gone_quiet, g.name.lower()))
    return TeamPicture(child, tuple(groups), now)


def access_of(grant: Grant, now: datetime) -> Access:
    if grant.expires_at is not None and grant.expires_at <= now:
        return "expired"
    if grant.expires_at is not None and grant.expires_at - now <= SOON:
        return "ending_soon"
    return "active"


async def _holders(child_id: int, now: datetime) -> list[tuple[Grant, Agency]]:
    """Active grants, then grants that expired lately to holders without access now (the
    latest one each), with the agency each brings."""
    related = ("professional__agency", "team__agency")
    active = await Grant.filter(active_grant_q(now), child_id=child_id).order_by("created_at")
    expired = await Grant.filter(
        child_id=child_id,
        revoked_at__isnull=True,
        expires_at__lte=now,
        expires_at__gt=now - RECENTLY_EXPIRED,
    ).order_by("-expires_at")
    seen = {(g.professional_id, g.team_id) for g in active}
    found = list(active)
    for grant in expired:
        if (grant.professional_id, grant.team_id) not in seen:
            seen.add((grant.professional_id, grant.team_id))
            found.append(grant)
    await Grant.fetch_for_list(found, *related)
    out = []
    for grant in found:
        holder = grant.professional or grant.team
        assert holder is not None  # a grant is to exactly one of them
        out.append((grant, holder.agency))
    return out


def _person(someone: Professional, last: dict[int, datetime]) -> Person:
    return Person(
        someone.id,
        someone.name,
        someone.job_title,
        someone.work_phone,
        someone.work_email,
        last.get(someone.id),
    )


async def _holder(grant: Grant, now: datetime, last: dict[int, datetime]) -> Holder:
    if grant.professional is not None:
        person = grant.professional
        people: tuple[Person, ...] = (_person(person, last),)
        kind: Literal["professional", "team"] = "professional"
        holder_id, name, title = person.id, person.name, person.job_title
    else:
        assert grant.team is not None
        members = await TeamMember.filter(
            team_id=grant.team_id, professional__is_active=True
        ).prefetch_related("professional")
        ordered = sorted((m.professional for m in members), key=lambda p: p.name.lower())
        people = tuple(_person(p, last) for p in ordered)
        kind, holder_id, name, title = "team", grant.team.id, grant.team.name, ""
    dates = [p.last_post_at for p in people if p.last_post_at is not None]
    return Holder(
        grant_id=grant.id,
        type=kind,
        id=holder_id,
        name=name,
        job_title=title,
        since=grant.created_at,
        expires_at=grant.expires_at,
        access=access_of(grant, now),
        last_post_at=max(dates, default=None),
        people=people,
    )


async def _last_posts(child_id: int) -> tuple[dict[int, datetime], dict[str, datetime]]:
    """Each author's and each agency's last post about the child (removed ones left out)."""
    by_author: dict[int, datetime] = {}
    by_agency: dict[str, datetime] = {}
    for author_id, agency, last in await raw_sql.fetch(_LAST_POSTS_SQL, child_id):
        at = moment(last)
        if at is None:
            continue
        by_author[int(author_id)] = at
        if agency not in by_agency or at > by_agency[agency]:
            by_agency[str(agency)] = at
    return by_author, by_agency


async def _quiet(child_id: int) -> dict[str, str]:
    """The agencies the stored silence verdict says have gone quiet, with the reason."""
    state = await SilenceState.get_or_none(child_id=child_id)
    if state is None or not state.flagged:
        return {}
    names = [str(a) for a in state.silent_agencies or []]
    reasons = [str(r) for r in state.reasons or []]
    return {name: reasons[i] if i < len(reasons) else "" for i, name in enumerate(names)}


async def _sectors(names: set[str], known: dict[str, Agency]) -> dict[str, str]:
    """Each agency's sector by name (those met through grants are already loaded)."""
    sectors = {name: str(agency.sector) for name, agency in known.items()}
    if names:
        for row in await Agency.filter(name__in=sorted(names)).values("name", "sector"):
            sectors[str(row["name"])] = str(row["sector"])
    return sectors
