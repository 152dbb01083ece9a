"""Teams and their members (administrators). A membership change moves what the member
may see through team grants, so open sockets re-read it at once."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from feeds import audit, events
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import Conflict, Invalid, NotFound
from feeds.models import Agency, Professional, Team, TeamMember
from feeds.organisation.admin import Actor, check_admin, check_id, check_name


@dataclass(frozen=True)
class Membership:
    member: TeamMember
    added: bool  # False when the person was a member already (the manager flag may move)


async def do_create_team(actor: Actor, name: object, agency_id: object, ctx: AuditContext) -> Team:
    """A new team in an agency; its name is unique (whatever its case)."""
    await check_admin(actor, AuditAction.TEAM_CREATE, ctx)
    checked, agency = check_name(name), check_id(agency_id, "agency_id")
    if not await Agency.filter(id=agency).exists():
        raise Invalid("No such agency.", field="agency_id")
    taken = Conflict(f"There is already a team called {checked}.", field="name")
    if await Team.filter(name__iexact=checked).exists():
        raise taken
    try:
        async with events.transaction():
            team = await Team.create(name=checked, agency_id=agency)
            detail = {"team_id": team.id, "agency_id": agency}
            await audit.record(AuditAction.TEAM_CREATE, ctx, actor=actor, detail=detail)
    except IntegrityError:
        raise taken from None
    return team


async def _team(team_id: int) -> Team:
    team = await Team.get_or_none(id=team_id)
    if team is None:
        raise NotFound("No such team.")
    return team


async def _member_changed(member_id: int, team_id: int, change: str) -> None:
    """Tell the member's sockets (ids only): the hub re-reads visibility on grant changes."""
    payload = {"change": change, "team_id": team_id, "professional_id": member_id}
    await events.emit(events.GRANT_CHANGED, payload, child_id=None, recipient_id=member_id)


async def do_add_member(
    actor: Actor,
    team_id: int,
    professional_id: object,
    is_manager: object,
    ctx: AuditContext,
) -> Membership:
    """Add a professional to a team, or (already a member) set whether they manage it."""
    await check_admin(actor, AuditAction.TEAM_MEMBER_ADD, ctx)
    team = await _team(team_id)
    person_id = check_id(professional_id, "professional_id")
    if not isinstance(is_manager, bool):
        raise Invalid("is_manager must be true or false.", field="is_manager")
    if not await Professional.filter(id=person_id, is_active=True).exists():
        raise Invalid("No such active professional.", field="professional_id")
    async with events.transaction():
        member, added = await TeamMember.get_or_create(
            team_id=team.id, professional_id=person_id, defaults={"is_manager": is_manager}
        )
        if not added and member.is_manager != is_manager:
            member.is_manager = is_manager
            await member.save(update_fields=["is_manager"])
        detail = {"team_id": team.id, "professional_id": person_id, "is_manager": is_manager}
        action = AuditAction.TEAM_MEMBER_ADD if added else AuditAction.TEAM_MEMBER_UPDATE
        await audit.record(action, ctx, actor=actor, detail=detail)
        if added:
            await _member_changed(person_id, team.id, "joined_team")
    return Membership(member, added)


async def do_remove_member(
    actor: Actor, team_id: int, professional_id: int, ctx: AuditContext
) -> None:
    """Take a professional out of a team: the team's grants stop reaching them at once."""
    await check_admin(actor, AuditAction.TEAM_MEMBER_REMOVE, ctx)
    team = await _team(team_id)
    member = await TeamMember.get_or_none(team_id=team.id, professional_id=professional_id)
    if member is None:
        raise NotFound("That person is not a member of this team.")
    async with events.transaction():
        # Membership is a link, not a record about a child: the audit keeps its history.
        await TeamMember.filter(id=member.id).delete()
        detail = {"team_id": team.id, "professional_id": professional_id}
        await audit.record(AuditAction.TEAM_MEMBER_REMOVE, ctx, actor=actor, detail=detail)
        await _member_changed(professional_id, team.id, "left_team")


async def teams(actor: Actor, ctx: AuditContext) -> list[Team]:
    """Every team with its agency and members (and their agencies), by name (administrators)."""
    await check_admin(actor, AuditAction.TEAM_LIST, ctx)
    return (
        await Team.all()
        .order_by("name")
        .prefetch_related("agency", "members__professional__agency")
    )


async def team_detail(team_id: int) -> Team:
    """One team with its agency and members loaded (for the view after a change)."""
    team = await _team(team_id)
    await team.fetch_related("agency", "members__professional__agency")
    return team
