"""Who may create, change, close and reopen a child's record.

Managers and administrators. An administrator may do so for any child but gains no
access to its feed. A manager may for a child they hold a grant on (directly or through a
team; break-glass is not enough), or, once the case is closed, held one when it closed.
Anyone else who may see the child is refused (403); everyone else gets the same 404 as
for a child that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.expressions import Q

from feeds import audit
from feeds.access.policy import (
    Action,
    check_child_access,
    child_and_standings,
    may,
    may_view,
    team_ids_of,
)
from feeds.access.rules import allows
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import Forbidden, NotFound
from feeds.models import Child, Grant, Professional, Role

HIDDEN = "No such child, or you do not have access to this child."
MANAGERS_ONLY = "Only managers and administrators can change a child's record."


def may_create_children(professional: Professional) -> bool:
    return professional.is_active and professional.role in (Role.MANAGER, Role.ADMIN)


async def check_may_create(professional: Professional | None, ctx: AuditContext) -> None:
    """Forbidden (audited) unless a manager or an administrator; None is the operator at
    the server's shell (the `jigsaw create-child` command)."""
    if professional is None:
        return
    async with audit.refusal_recorded(AuditAction.CHILD_CREATE, ctx, professional, None):
        if not may_create_children(professional):
            raise Forbidden("Only managers and administrators can add a child.")


async def _held_at_closure(manager: Professional, child: Child) -> bool:
    """True when a grant to the manager or their team ended with the case's closure."""
    holder = Q(professional_id=manager.id)
    if teams := await team_ids_of(manager):
        holder |= Q(team_id__in=teams)
    ended = Grant.filter(holder, child_id=child.id, revoked_at__gte=child.closed_at)
    return await ended.exists()


async def _closed_child(professional: Professional, child: Child) -> Child:
    if professional.role == Role.MANAGER and await _held_at_closure(professional, child):
        return child
    if await may_view(professional, child.id):  # break-glass: sees it, may not change it
        raise Forbidden(MANAGERS_ONLY)
    raise NotFound(HIDDEN)


async def _open_child(professional: Professional, child_id: int) -> Child:
    child = await check_child_access(professional, child_id, Action.VIEW)
    if professional.role != Role.MANAGER or not await may(
        professional, Action.MANAGE_GRANTS, child
    ):
        raise Forbidden(MANAGERS_ONLY)
    return child


async def _managed_child(professional: Professional, child_id: int) -> Child:
    child = await Child.get_or_none(id=child_id)
    if child is None or not professional.is_active:
        raise NotFound(HIDDEN)
    if professional.role == Role.ADMIN:
        return child
    if child.closed_at is not None:
        return await _closed_child(professional, child)
    return await _open_child(professional, child_id)


# What the lead professional (and the managers around the child) may correct on the record
# without a manager's authority over it: where the child is seen, not who the child is.
WHEREABOUTS = frozenset({"school", "area"})


async def check_may_edit(
    professional: Professional, child_id: int, fields: Iterable[str], ctx: AuditContext
) -> Child:
    """The child, when this professional may change these fields of its record: school
    and area need EDIT_WHEREABOUTS (the lead); anything else needs `check_may_manage`."""
    if set(fields) <= WHEREABOUTS and professional.is_active:
        child, standings = await child_and_standings(professional, child_id)
        if child is not None and allows(standings, Action.EDIT_WHEREABOUTS):
            return child
    return await check_may_manage(professional, child_id, AuditAction.CHILD_EDIT, ctx)


async def check_may_manage(
    professional: Professional, child_id: int, action: AuditAction, ctx: AuditContext
) -> Child:
    """The child, when this professional may change its record; refusals are audited."""
    async with audit.refusal_recorded(action, ctx, professional, child_id):
        return await _managed_child(professional, child_id)
