"""Who runs the organisation: administrators, and the operator at the server's shell.

Actions take `actor: Professional | None`; None is the operator running the `jigsaw`
command on the server (trusted as `create-user` is), recorded as the system in the audit.
"""

from __future__ import annotations

from feeds import audit
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import Forbidden, Invalid
from feeds.models import Professional, Role

Actor = Professional | None
ADMINS_ONLY = "Only administrators manage agencies, teams and people."


async def check_admin(actor: Actor, action: AuditAction, ctx: AuditContext) -> None:
    """Forbidden (audited) unless the actor is an active administrator or the shell."""
    if actor is None:
        return
    async with audit.refusal_recorded(action, ctx, actor, None):
        if actor.role != Role.ADMIN or not actor.is_active:
            raise Forbidden(ADMINS_ONLY)


def check_name(value: object, field: str = "name", limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{field} is required.", field=field)
    text = value.strip()
    if len(text) > limit:
        raise Invalid(f"{field} is at most {limit} characters ({len(text)} given).", field=field)
    if not text.isprintable():
        raise Invalid(f"{field} cannot contain control characters.", field=field)
    return text


def check_id(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise Invalid(f"{field} must be a positive whole number.", field=field)
    return value
