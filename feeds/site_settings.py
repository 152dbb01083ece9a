"""Site-wide settings an administrator changes at run time, stored in the database so
every worker process sees the same value at once."""

from __future__ import annotations

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from feeds import audit
from feeds.audit import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden
from feeds.mfa import has_mfa
from feeds.models import MfaFactor, Professional, Role, Session, SiteSetting

REQUIRE_MFA = "require_mfa"


async def mfa_required() -> bool:
    """True when an administrator requires two-step sign-in for everyone."""
    setting = await SiteSetting.get_or_none(key=REQUIRE_MFA)
    return bool(setting is not None and setting.value.get("required"))


async def do_set_mfa_required(admin: Professional, required: bool, ctx: AuditContext) -> int:
    """Require (or stop requiring) two-step sign-in; returns how many sessions were ended.

    Turning it on ends the sessions of everyone without an authenticator, which also
    closes their open websockets; they sign in again and are sent to set one up.
    """
    if admin.role != Role.ADMIN:
        raise Forbidden("Only administrators change site settings.")
    if required and not await has_mfa(admin):
        raise Forbidden("Set up two-step sign-in for yourself before requiring it of everyone.")
    ended = 0
    async with in_transaction():
        await SiteSetting.update_or_create(
            key=REQUIRE_MFA, defaults={"value": {"required": required}, "updated_by_id": admin.id}
        )
        if required:
            enrolled = MfaFactor.filter(confirmed_at__isnull=False).values("professional_id")
            ended = await (
                Session.filter(revoked_at__isnull=True)
                .exclude(professional_id__in=Subquery(enrolled))
                .update(revoked_at=utcnow())
            )
        await audit.record(
            "mfa.require", ctx, actor=admin, detail={"required": required, "sessions_ended": ended}
        )
    return ended
