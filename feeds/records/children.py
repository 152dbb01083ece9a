"""Create, edit, close and reopen a child's record. Each action writes the change, its
revision (the old values), its audit record, its grants and its live events in one
transaction, like feeds/feed/posting.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from feeds import audit, events
from feeds.access import grants
from feeds.access.policy import active_grant_q
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Conflict, Invalid
from feeds.models import BreakGlass, Child, ChildRevision, Grant, Professional, Role, Team
from feeds.records.authority import check_may_create, check_may_edit, check_may_manage
from feeds.records.status import check_open
from feeds.records.values import check_changes, check_id, check_new_child

CHILD_CHANGED = "child.changed"  # ids only: clients re-read the record under current policy
FIELDS = ("display_name", "reference", "date_of_birth", "school", "area", "lead_professional_id")


def _taken(reference: str) -> Conflict:
    return Conflict(f"Another child already has the reference {reference}.", field="reference")


async def _check_reference_free(reference: str, child_id: int | None = None) -> None:
    clash = Child.filter(reference__iexact=reference)
    if child_id is not None:
        clash = clash.exclude(id=child_id)
    if await clash.exists():
        raise _taken(reference)


async def _check_lead(lead_id: int) -> None:
    lead = await Professional.get_or_none(id=lead_id, is_active=True)
    if lead is None:
        raise Invalid("No such active professional.", field="lead_professional_id")
    if lead.role == Role.ADMIN:
        raise Invalid(
            "An administrator cannot be a lead professional: leads see the child's feed.",
            field="lead_professional_id",
        )


async def _check_team(team_id: object) -> int | None:
    if team_id is None:
        return None
    checked = check_id(team_id, "team_id")
    if not await Team.filter(id=checked).exists():
        raise Invalid("No such team.", field="team_id")
    return checked


async def _ensure_lead_grant(
    actor: Professional | None, child: Child, ctx: AuditContext
) -> int | None:
    """The lead professional holds a direct grant; the id of one made now, if any (the
    caller's audit record names it)."""
    lead_id = child.lead_professional_id
    held = Grant.filter(active_grant_q(utcnow()), child_id=child.id, professional_id=lead_id)
    if lead_id is None or await held.exists():
        return None
    grant = await grants.write_grant(actor, child.id, ctx, professional_id=lead_id, record=False)
    return grant.id


async def _emit(child: Child, change: str) -> None:
    await events.emit(CHILD_CHANGED, {"child_id": child.id, "change": change}, child_id=child.id)


async def do_create_child(
    actor: Professional | None, data: Mapping[str, object], ctx: AuditContext
) -> Child:
    """A new child's record; its lead professional (and `team_id`, if given) get a grant.
    The creator gains no access unless they are the lead (None: the shell's operator)."""
    await check_may_create(actor, ctx)
    values = check_new_child(data)
    team_id = await _check_team(data.get("team_id"))
    await _check_lead(values["lead_professional_id"])
    await _check_reference_free(values["reference"])
    try:
        async with events.transaction():
            child = await Child.create(**values)
            made = [await _ensure_lead_grant(actor, child, ctx)]
            if team_id is not None:
                team = await grants.write_grant(actor, child.id, ctx, team_id=team_id, record=False)
                made.append(team.id)
            detail = {
                "lead_professional_id": child.lead_professional_id,
                "team_id": team_id,
                "grants_made": [grant_id for grant_id in made if grant_id is not None],
            }
            await audit.record(
                AuditAction.CHILD_CREATE, ctx, actor=actor, child_id=child.id, detail=detail
            )
            await _emit(child, "created")
    except IntegrityError:  # a concurrent create took the reference first
        raise _taken(values["reference"]) from None
    return child


async def _keep_revision(child: Child, change: str, actor: Professional, at: datetime) -> None:
    """The record as it is now, before `change` (the history the edit page shows)."""
    old = {name: getattr(child, name) for name in FIELDS}
    await ChildRevision.create(
        child_id=child.id,
        change=change,
        changed_at=at,
        changed_by=actor,
        closed_at=child.closed_at,
        **old,
    )


async def do_edit_child(
    actor: Professional, child_id: int, data: Mapping[str, object], ctx: AuditContext
) -> Child:
    """Change some of the record's fields; the old values are kept as a revision."""
    child = await check_may_edit(actor, child_id, data.keys(), ctx)
    await check_open(child, AuditAction.CHILD_EDIT, ctx, actor)
    changes = check_changes(data)
    if "reference" in changes:
        await _check_reference_free(changes["reference"], child.id)
    if "lead_professional_id" in changes:
        await _check_lead(changes["lead_professional_id"])
    moved = sorted(name for name, value in changes.items() if getattr(child, name) != value)
    try:
        async with events.transaction():
            if moved:
                await _keep_revision(child, "edit", actor, utcnow())
                for name in moved:
                    setattr(child, name, changes[name])
                await child.save(update_fields=moved)
                lead_grant = await _ensure_lead_grant(actor, child, ctx)
                await _emit(child, "edited")
            detail: dict[str, Any] = {"fields": moved}
            if moved and lead_grant is not None:
                detail["grants_made"] = [lead_grant]
            await audit.record(
                AuditAction.CHILD_EDIT, ctx, actor=actor, child_id=child.id, detail=detail
            )
    except IntegrityError:
        raise _taken(changes["reference"]) from None
    return child


async def do_close_child(actor: Professional, child_id: int, ctx: AuditContext) -> Child:
    """Close the case: the record becomes read-only and every live grant and emergency
    access ends now. Nothing is deleted; reopening restores the grants."""
    child = await check_may_manage(actor, child_id, AuditAction.CHILD_CLOSE, ctx)
    await check_open(child, AuditAction.CHILD_CLOSE, ctx, actor)
    now = utcnow()
    async with events.transaction():
        await _keep_revision(child, "close", actor, now)
        child.closed_at, child.closed_by_id = now, actor.id
        await child.save(update_fields=["closed_at", "closed_by_id"])
        live = await Grant.filter(active_grant_q(now), child_id=child.id).order_by("id")
        for grant in live:
            await grants.write_revocation(grant, actor, ctx, now, record=False)
        glass = await BreakGlass.filter(child_id=child.id, expires_at__gt=now).update(
            expires_at=now
        )
        detail = {"grants_ended": [g.id for g in live], "break_glass_ended": glass}
        await audit.record(
            AuditAction.CHILD_CLOSE, ctx, actor=actor, child_id=child.id, detail=detail
        )
        # Sockets re-read who may see what on a grant change: one for the whole closure.
        change = {"change": "case_closed", "child_id": child.id}
        await events.emit(events.GRANT_CHANGED, change, child_id=child.id)
        await _emit(child, "closed")
    return child


def _restorable(grant: Grant, now: datetime) -> bool:
    return grant.expires_at is None or grant.expires_at > now


async def _restore_grants(actor: Professional, child: Child, ctx: AuditContext) -> list[int]:
    """Grant again what the closure ended (same holders, same expiry if still ahead);
    the new grants' ids."""
    now, closed_at = utcnow(), child.closed_at
    ended = await Grant.filter(child_id=child.id, revoked_at__gte=closed_at).order_by("id")
    restored: set[tuple[int | None, int | None]] = set()
    made: list[int] = []
    for old in ended:
        holder = (old.professional_id, old.team_id)
        if holder in restored or not _restorable(old, now):
            continue
        if (
            old.professional_id is not None
            and not await Professional.filter(id=old.professional_id, is_active=True).exists()
        ):
            continue
        restored.add(holder)
        grant = await grants.write_grant(
            actor,
            child.id,
            ctx,
            professional_id=old.professional_id,
            team_id=old.team_id,
            expires_at=old.expires_at,
            record=False,
        )
        made.append(grant.id)
    return made


async def do_reopen_child(actor: Professional, child_id: int, ctx: AuditContext) -> Child:
    """Reopen a closed case: writable again, with the grants its closure ended."""
    child = await check_may_manage(actor, child_id, AuditAction.CHILD_REOPEN, ctx)
    if child.closed_at is None:
        await audit.record(
            AuditAction.CHILD_REOPEN, ctx, actor=actor, child_id=child.id, outcome=AuditOutcome.OPEN
        )
        raise Conflict("This child's case is open: there is nothing to reopen.")
    async with events.transaction():
        await _keep_revision(child, "reopen", actor, utcnow())
        restored = await _restore_grants(actor, child, ctx)
        child.closed_at, child.closed_by_id = None, None
        await child.save(update_fields=["closed_at", "closed_by_id"])
        if (lead_grant := await _ensure_lead_grant(actor, child, ctx)) is not None:
            restored.append(lead_grant)
        detail: dict[str, Any] = {"grants_made": restored}
        await audit.record(
            AuditAction.CHILD_REOPEN, ctx, actor=actor, child_id=child.id, detail=detail
        )
        await _emit(child, "reopened")
    return child


async def do_read_history(
    actor: Professional, child_id: int, ctx: AuditContext
) -> tuple[Child, list[ChildRevision]]:
    """The record and its earlier versions, newest first (read by those who may change it)."""
    child = await check_may_manage(actor, child_id, AuditAction.CHILD_HISTORY, ctx)
    await audit.record(AuditAction.CHILD_HISTORY, ctx, actor=actor, child_id=child.id)
    revisions = await ChildRevision.filter(child_id=child.id).order_by("-id")
    return child, list(revisions)
