"""Grant and revoke access to a child, and the team around the child."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q

from feeds import audit, events
from feeds.access.policy import (
    GRANT_NOT_FOUND,
    Action,
    active_grant_q,
    check_child_access,
    check_item_access,
)
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Invalid, NotFound
from feeds.models import Grant, Professional, Team, TeamMember
from feeds.network.involvement import do_note_agency
from feeds.records.status import check_open


async def _by_email(email: str) -> int:
    """Called only after the granter's permission was checked: looking an address up
    for someone without the right would tell them who has an account."""
    person = await Professional.get_or_none(email=email.strip().lower(), is_active=True)
    if person is None:
        raise Invalid("Nobody with that email address.", field="email")
    return person.id


async def _check_holder(
    professional_id: int | None, team_id: int | None, email: str | None
) -> int | None:
    """The professional's id (looked up by email when given that way); Invalid otherwise."""
    if email is not None and professional_id is None:
        professional_id = await _by_email(email)
    if (professional_id is None) == (team_id is None):
        raise Invalid("Grant to exactly one of: a professional or a team.")
    if professional_id is not None:
        if not await Professional.filter(id=professional_id, is_active=True).exists():
            raise Invalid("No such active professional.", field="professional_id")
    elif not await Team.filter(id=team_id).exists():
        raise Invalid("No such team.", field="team_id")
    return professional_id


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= utcnow()):
        raise Invalid("expires_at must be a future date-time with a time zone.", field="expires_at")


async def _agency_of(grant: Grant) -> int:
    """The agency a new grant brings to the child: its holder's."""
    if grant.professional_id is not None:
        rows = await Professional.filter(id=grant.professional_id).values("agency_id")
    else:
        rows = await Team.filter(id=grant.team_id).values("agency_id")
    return int(rows[0]["agency_id"])


async def _loaded(grant: Grant) -> Grant:
    await grant.fetch_related("professional__agency", "team__agency", "granted_by")
    return grant


async def write_grant(
    granter: Professional | None,
    child_id: int,
    ctx: AuditContext,
    *,
    professional_id: int | None = None,
    team_id: int | None = None,
    expires_at: datetime | None = None,
    record: bool = True,
    detail_extra: dict[str, int] | None = None,
) -> Grant:
    """Insert a grant with its audit record and live event, inside the caller's transaction
    (the caller has checked who may grant; feeds/records/ grants a new child's lead). With
    `record=False` the caller's own audit record names the grant: one per decision."""
    grant = await Grant.create(
        child_id=child_id,
        professional_id=professional_id,
        team_id=team_id,
        granted_by=granter,
        expires_at=expires_at,
    )
    detail = {
        "grant_id": grant.id,
        "professional_id": professional_id,
        "team_id": team_id,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    await events.emit(events.GRANT_CHANGED, {"change": "granted", **detail}, child_id=child_id)
    actor_id = granter.id if granter is not None else None
    await do_note_agency(child_id, await _agency_of(grant), actor_id, grant_id=grant.id)
    if record:
        detail |= detail_extra or {}
        await audit.record(
            AuditAction.GRANT_CREATE, ctx, actor=granter, child_id=child_id, detail=detail
        )
    return grant


async def do_grant(
    granter: Professional,
    child_id: int,
    ctx: AuditContext,
    *,
    professional_id: int | None = None,
    team_id: int | None = None,
    email: str | None = None,
    expires_at: datetime | None = None,
    access_request_id: int | None = None,
) -> Grant:
    """Give a professional (by id or email) or a team access to a child, optionally until
    `expires_at` (approving a request to join names it). Permission first: nothing is
    looked up for someone without the right."""
    asked = {"access_request_id": access_request_id} if access_request_id else {}
    async with audit.refusal_recorded(AuditAction.GRANT_CREATE, ctx, granter, child_id, asked):
        child = await check_child_access(granter, child_id, Action.MANAGE_GRANTS)
    await check_open(child, AuditAction.GRANT_CREATE, ctx, granter)
    professional_id = await _check_holder(professional_id, team_id, email)
    _check_expiry(expires_at)
    async with events.transaction():
        grant = await write_grant(
            granter,
            child.id,
            ctx,
            professional_id=professional_id,
            team_id=team_id,
            expires_at=expires_at,
            detail_extra=asked,
        )
    return await _loaded(grant)


async def do_revoke_grant(
    revoker: Professional, grant_id: int, ctx: AuditContext, *, refuse_own: bool = False
) -> Grant:
    """End a grant now; the row stays, with who revoked it and when. With `refuse_own`
    (the pages), one's own access is not removed (check_not_own)."""
    grant = await Grant.get_or_none(id=grant_id)
    child_id = grant.child_id if grant else None
    async with audit.refusal_recorded(
        AuditAction.GRANT_REVOKE, ctx, revoker, child_id, {"grant_id": grant_id}
    ):
        if grant is None:
            raise NotFound(GRANT_NOT_FOUND)
        await check_item_access(revoker, grant.child_id, Action.MANAGE_GRANTS, GRANT_NOT_FOUND)
    if refuse_own:
        check_not_own(grant, revoker)
    if grant.revoked_at is not None:  # already revoked: nothing changes, the decision is kept
        same = {"grant_id": grant.id, "already_revoked": True}
        await audit.record(
            AuditAction.GRANT_REVOKE, ctx, actor=revoker, child_id=child_id, detail=same
        )
    else:
        async with events.transaction():
            await write_revocation(grant, revoker, ctx, utcnow())
    return await _loaded(grant)


async def write_revocation(
    grant: Grant, revoker: Professional, ctx: AuditContext, at: datetime, record: bool = True
) -> None:
    """End a grant at `at` with its audit record and live event, inside the caller's
    transaction (the caller has checked who may revoke; `record` as for write_grant)."""
    grant.revoked_at, grant.revoked_by_id = at, revoker.id
    await grant.save(update_fields=["revoked_at", "revoked_by_id"])
    detail = {
        "grant_id": grant.id,
        "professional_id": grant.professional_id,
        "team_id": grant.team_id,
    }
    if record:
        await audit.record(
            AuditAction.GRANT_REVOKE, ctx, actor=revoker, child_id=grant.child_id, detail=detail
        )
    await events.emit(
        events.GRANT_CHANGED, {"change": "revoked", **detail}, child_id=grant.child_id
    )


async def do_read_grants(viewer: Professional, child_id: int, ctx: AuditContext) -> list[Grant]:
    """The team around the child, as its own read (the API): audited, refusals too."""
    async with audit.refusal_recorded(AuditAction.GRANT_LIST, ctx, viewer, child_id):
        grants = await team_around_child(viewer, child_id)
    await audit.record(AuditAction.GRANT_LIST, ctx, actor=viewer, child_id=child_id)
    return grants


async def team_around_child(viewer: Professional, child_id: int) -> list[Grant]:
    """The active grants on a child: who has access, from which agency, since when.
    Not audited: pages call it after the feed read that records the visit."""
    await check_child_access(viewer, child_id, Action.VIEW)
    grants = Grant.filter(active_grant_q(utcnow()), child_id=child_id).order_by("created_at")
    return await grants.prefetch_related("professional__agency", "team__agency", "granted_by")


async def past_access(viewer: Professional, child_id: int) -> list[Grant]:
    """Access that ended (expired or revoked), newest end first, one row per holder, leaving
    out holders who have access again. Not audited, as team_around_child."""
    await check_child_access(viewer, child_id, Action.VIEW)
    now = utcnow()
    live = await Grant.filter(active_grant_q(now), child_id=child_id).values(
        "professional_id", "team_id"
    )
    current = {(row["professional_id"], row["team_id"]) for row in live}
    ended = await Grant.filter(~active_grant_q(now), child_id=child_id).prefetch_related(
        "professional__agency", "team__agency", "granted_by"
    )
    latest: dict[tuple[int | None, int | None], Grant] = {}
    for grant in sorted(ended, key=ended_at):
        holder = (grant.professional_id, grant.team_id)
        if holder not in current:
            latest[holder] = grant  # sorted by end: the last one wins
    return sorted(latest.values(), key=ended_at, reverse=True)


def ended_at(grant: Grant) -> datetime:
    """When a grant that is no longer active ended: revoked, or else expired."""
    ends = [t for t in (grant.revoked_at, grant.expires_at) if t is not None]
    return min(ends) if ends else grant.created_at


def check_not_own(grant: Grant, revoker: Professional) -> None:
    """Pages never offer removing one's own access: a lead would lose the lead's rights."""
    if grant.professional_id == revoker.id:
        raise Invalid("You cannot remove your own access.")


async def revocable(revoker: Professional, grant_id: int) -> Grant:
    """A grant the revoker may remove (MANAGE_GRANTS on its child), loaded; NotFound for a
    missing or hidden one, Forbidden without the right."""
    grant = await Grant.get_or_none(id=grant_id)
    if grant is None:
        raise NotFound(GRANT_NOT_FOUND)
    await check_item_access(revoker, grant.child_id, Action.MANAGE_GRANTS, GRANT_NOT_FOUND)
    return await _loaded(grant)


async def do_read_revocable(revoker: Professional, grant_id: int, ctx: AuditContext) -> Grant:
    """`revocable`, as its own audited decision (the page that asks before revoking)."""
    found = await Grant.get_or_none(id=grant_id)
    child_id, asked = (found.child_id if found else None), {"grant_id": grant_id}
    async with audit.refusal_recorded(AuditAction.GRANT_CONFIRM, ctx, revoker, child_id, asked):
        grant = await revocable(revoker, grant_id)
    await audit.record(
        AuditAction.GRANT_CONFIRM, ctx, actor=revoker, child_id=grant.child_id, detail=asked
    )
    return grant


async def do_undo_revoke(granter: Professional, grant_id: int, ctx: AuditContext) -> Grant:
    """Give back access just removed: the same holder, the same expiry, through do_grant
    (audited as a grant). When the holder already has access again, that grant."""
    old = await Grant.get_or_none(id=grant_id)
    async with audit.refusal_recorded(
        AuditAction.GRANT_CREATE,
        ctx,
        granter,
        old.child_id if old else None,
        {"undo_of": grant_id},
    ):
        if old is None:
            raise NotFound(GRANT_NOT_FOUND)
        await check_item_access(granter, old.child_id, Action.MANAGE_GRANTS, GRANT_NOT_FOUND)
    holder = Q(professional_id=old.professional_id, team_id=old.team_id)
    again = await Grant.filter(active_grant_q(utcnow()), holder, child_id=old.child_id).first()
    if old.revoked_at is None or again is not None:
        # Nothing to give back (never removed, or access again since): the decision is kept.
        same = {"undo_of": grant_id, "already_active": True}
        await audit.record(
            AuditAction.GRANT_CREATE, ctx, actor=granter, child_id=old.child_id, detail=same
        )
        return await _loaded(again or old)
    return await do_grant(
        granter,
        old.child_id,
        ctx,
        professional_id=old.professional_id,
        team_id=old.team_id,
        expires_at=old.expires_at,
    )


SUGGESTIONS = 10  # at most this many people suggested to a granter
MAX_PREFIX = 100


async def do_suggest_holders(
    granter: Professional, child_id: int, prefix: str, ctx: AuditContext
) -> list[Professional]:
    """`suggest_holders`, audited as a decision about the child (refusals too)."""
    async with audit.refusal_recorded(AuditAction.GRANT_SUGGEST, ctx, granter, child_id):
        found = await suggest_holders(granter, child_id, prefix)
    await audit.record(AuditAction.GRANT_SUGGEST, ctx, actor=granter, child_id=child_id)
    return found


async def suggest_holders(granter: Professional, child_id: int, prefix: str) -> list[Professional]:
    """People a granter may pick by name: never a directory of everyone. Only active people
    from the granter's own agency and teams, and people who have (or had) a grant on the
    child, whose name (or a word of it) starts with `prefix`; at most SUGGESTIONS."""
    await check_child_access(granter, child_id, Action.MANAGE_GRANTS)
    prefix = " ".join(prefix.split())[:MAX_PREFIX]
    if not prefix:
        return []
    teams = TeamMember.filter(professional_id=granter.id).values_list("team_id", flat=True)
    mates = TeamMember.filter(team_id__in=await teams).values_list("professional_id", flat=True)
    around = Grant.filter(child_id=child_id, professional_id__isnull=False).values_list(
        "professional_id", flat=True
    )
    known = Q(agency_id=granter.agency_id) | Q(id__in=await mates) | Q(id__in=await around)
    named = Q(name__istartswith=prefix) | Q(name__icontains=" " + prefix)
    found = Professional.filter(known, named, is_active=True).order_by("name", "id")
    return await found.limit(SUGGESTIONS).prefetch_related("agency")
