"""Break-glass: emergency access to a child's record without a grant.

A professional gives a reason; access lasts a limited time (the caller passes the
duration: server/ reads it from JIGSAW_BREAK_GLASS_HOURS, 4 hours by default), is
marked on every view, alerts the lead professional and the managers of the teams
around the child at once, and waits for an administrator's review (NHS Summary Care
Record emergency access). On a shielded child it also alerts every administrator.
"""

from __future__ import annotations

from datetime import timedelta

from feeds import audit, events, lookup
from feeds.access.policy import may_view, responsible_for
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden, Invalid, NotFound
from feeds.feed.notifications import do_notify
from feeds.models import BreakGlass, Child, Professional, Role

DEFAULT_DURATION = timedelta(hours=4)
MIN_REASON, MAX_REASON = 10, 500
OPEN = AuditAction.BREAK_GLASS_OPEN  # the audit action, allowed or refused


def check_reason(reason: object) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not MIN_REASON <= len(text) <= MAX_REASON:
        raise Invalid(
            f"Say why you need emergency access ({MIN_REASON} to {MAX_REASON} characters).",
            field="reason",
        )
    return text


def may_break_glass(professional: Professional) -> bool:
    """Practitioners and managers may open a record in an emergency; administrators may not."""
    return professional.is_active and professional.role != Role.ADMIN


async def active_break_glass(professional: Professional, child_id: int) -> BreakGlass | None:
    """The professional's current emergency access to this child, if any."""
    return (
        await BreakGlass.filter(
            professional_id=professional.id, child_id=child_id, expires_at__gt=utcnow()
        )
        .order_by("-expires_at")
        .first()
    )


async def people_to_alert(child: Child, opener: Professional) -> list[int]:
    """The people answerable for the child (its lead, the managers of the teams around
    it: the policy's `responsible_for`), but not the opener."""
    return [person for person in await responsible_for(child.id) if person != opener.id]


async def do_break_glass(
    professional: Professional,
    child_id: int,
    reason: object,
    ctx: AuditContext,
    duration: timedelta = DEFAULT_DURATION,
) -> BreakGlass:
    """Open a child's record in an emergency: time-boxed, audited, alerting at once."""
    async with audit.refusal_recorded(OPEN, ctx, professional, child_id):
        if not may_break_glass(professional):
            raise Forbidden("Emergency access is for practitioners and managers.")
    text = check_reason(reason)  # bad input: no decision was taken, nothing to record
    async with audit.refusal_recorded(OPEN, ctx, professional, child_id):
        child = await Child.get_or_none(id=child_id, merged_into_id=None)
        if child is None:  # absent, or merged into another record
            raise NotFound("No such child.")
    if await may_view(professional, child_id):
        why = {"why": "already has access"}
        await audit.record(
            OPEN,
            ctx,
            actor=professional,
            child_id=child_id,
            outcome=AuditOutcome.DENIED,
            detail=why,
        )
        raise Invalid("You already have access to this child.")
    now = utcnow()
    async with events.transaction():
        access = await BreakGlass.create(
            child=child,
            professional=professional,
            reason=text,
            started_at=now,
            expires_at=now + duration,
        )
        detail = {"break_glass_id": access.id, "expires_at": access.expires_at.isoformat()}
        await audit.record(OPEN, ctx, actor=professional, child_id=child.id, detail=detail)
        for person_id in await people_to_alert(child, professional):
            await _alert(person_id, access, professional)
        if child.shielded_at is not None:
            await _alert_admins(access, professional)
    return access


SHIELDED_ALERT = "break_glass_shielded"


async def _alert_admins(access: BreakGlass, opener: Professional) -> None:
    """Emergency access to a shielded child alerts every administrator at once. They see
    no child's feed, so the alert names none: it points to the review list, where an
    administrator must close it."""
    admins = Professional.filter(role=Role.ADMIN, is_active=True).order_by("id")
    for row in await admins.values("id"):
        await do_notify(int(row["id"]), SHIELDED_ALERT, None, actor_id=opener.id)


async def _alert(person_id: int, access: BreakGlass, opener: Professional) -> None:
    await do_notify(person_id, "break_glass", access.child_id, actor_id=opener.id)


async def break_glass_uses(
    reviewed: bool | None = None,
    limit: int = 200,
    *,
    person: str | None = None,
    child_ref: str | None = None,
) -> list[BreakGlass]:
    """Every use, newest first, for the administrators' review list (callers check the
    role first); `person` (email or part of a name) and `child_ref` narrow it."""
    query = BreakGlass.all()
    people = await lookup.people_named(person)
    if people is not None:
        query = query.filter(professional_id__in=people)
    child = await lookup.child_by_reference(child_ref)
    if child is not None:
        query = query.filter(child_id=child)
    if reviewed is not None:
        query = query.filter(reviewed_at__isnull=not reviewed)
    return (
        await query.order_by("-id")
        .limit(limit)
        .prefetch_related("professional__agency", "child", "reviewed_by")
    )


async def do_review_break_glass(
    admin: Professional, break_glass_id: int, note: object, ctx: AuditContext
) -> BreakGlass:
    """An administrator marks a use reviewed, with an optional note."""
    if admin.role != Role.ADMIN:
        raise NotFound("No such emergency access.")
    access = await BreakGlass.get_or_none(id=break_glass_id)
    if access is None:
        raise NotFound("No such emergency access.")
    text = note.strip()[:MAX_REASON] if isinstance(note, str) else ""
    if access.reviewed_at is None:
        async with events.transaction():
            access.reviewed_at, access.reviewed_by_id, access.review_note = utcnow(), admin.id, text
            await access.save(update_fields=["reviewed_at", "reviewed_by_id", "review_note"])
            await audit.record(
                AuditAction.BREAK_GLASS_REVIEW,
                ctx,
                actor=admin,
                child_id=access.child_id,
                detail={"break_glass_id": access.id},
            )
    await access.fetch_related("professional__agency", "child", "reviewed_by")
    return access
