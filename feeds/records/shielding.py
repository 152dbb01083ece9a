"""Shielding a child (issue 17 part 3): a family in a refuge, an adoption in progress.

Who may: the child's lead professional (`Action.SHIELD`) or an administrator (for any
child, without gaining access to its feed). Others who see the child: 403; everyone else
the hidden 404. Each decision is audited with the reason; what shielding hides, and from
whom, is `feeds/access/identity.py`.
"""

from __future__ import annotations

from feeds import audit, events
from feeds.access.policy import CHILD_NOT_FOUND, Action, check_child_access, may
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Conflict, Invalid, NotFound
from feeds.models import Child, Professional, Role
from feeds.records.children import CHILD_CHANGED

MIN_REASON, MAX_REASON = 10, 500  # as for emergency access


def check_reason(reason: object) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not MIN_REASON <= len(text) <= MAX_REASON:
        raise Invalid(
            f"Say why ({MIN_REASON} to {MAX_REASON} characters).",
            field="reason",
        )
    return text


async def _authorised(actor: Professional, child_id: int) -> Child:
    """The child (its real record), when the actor may shield or unshield it."""
    if actor.is_active and actor.role == Role.ADMIN:
        child = await Child.get_or_none(id=child_id)
        if child is None:
            raise NotFound(CHILD_NOT_FOUND)
        return child
    return await check_child_access(actor, child_id, Action.SHIELD)


async def check_may_shield(
    actor: Professional, child_id: int, shield: bool, ctx: AuditContext
) -> Child:
    """The child's real record when the actor may shield it (or lift its shield); a
    refusal is audited."""
    action = AuditAction.CHILD_SHIELD if shield else AuditAction.CHILD_UNSHIELD
    async with audit.refusal_recorded(action, ctx, actor, child_id):
        return await _authorised(actor, child_id)


async def current(child_id: int) -> Child:
    """The child's record as stored now (for the answer to a change just made)."""
    child: Child = await Child.get(id=child_id)
    return child


async def do_shield_child(
    actor: Professional, child_id: int, reason: object, ctx: AuditContext
) -> Child:
    """Shield the child: from now on its name and reference reach direct grants only."""
    child = await check_may_shield(actor, child_id, True, ctx)
    text = check_reason(reason)
    if child.shielded_at is not None:
        raise Conflict("This child is already shielded.")
    async with events.transaction():
        child.shielded_at, child.shielded_by_id, child.shield_reason = utcnow(), actor.id, text
        await child.save(update_fields=["shielded_at", "shielded_by_id", "shield_reason"])
        detail = {"reason": text}
        await audit.record(
            AuditAction.CHILD_SHIELD, ctx, actor=actor, child_id=child.id, detail=detail
        )
        await events.emit(
            CHILD_CHANGED, {"child_id": child.id, "change": "shielded"}, child_id=child.id
        )
    return child


async def do_unshield_child(
    actor: Professional, child_id: int, reason: object, ctx: AuditContext
) -> Child:
    """Lift the shield (the reason is kept in the audit trail)."""
    child = await check_may_shield(actor, child_id, False, ctx)
    text = check_reason(reason)
    if child.shielded_at is None:
        raise Conflict("This child is not shielded.")
    async with events.transaction():
        child.shielded_at, child.shielded_by_id, child.shield_reason = None, None, ""
        await child.save(update_fields=["shielded_at", "shielded_by_id", "shield_reason"])
        detail = {"reason": text}
        await audit.record(
            AuditAction.CHILD_UNSHIELD, ctx, actor=actor, child_id=child.id, detail=detail
        )
        await events.emit(
            CHILD_CHANGED, {"child_id": child.id, "change": "unshielded"}, child_id=child.id
        )
    return child


async def may_shield(actor: Professional, child: Child) -> bool:
    """Whether to offer the shield form: an administrator, or the child's lead."""
    if actor.is_active and actor.role == Role.ADMIN:
        return True
    return await may(actor, Action.SHIELD, child)
