"""Site-wide settings an administrator changes at run time, stored in the database so
every worker process sees the same value at once."""

from __future__ import annotations

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from feeds import audit
from feeds.accounts.credentials import Ended
from feeds.accounts.mfa import has_mfa
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden
from feeds.models import ApiToken, MfaFactor, Professional, Role, Session, SiteSetting

REQUIRE_MFA = "require_mfa"


async def mfa_required() -> bool:
    """True when an administrator requires two-step sign-in for everyone."""
    setting = await SiteSetting.get_or_none(key=REQUIRE_MFA)
    return bool(setting is not None and setting.value.get("required"))


async def do_set_mfa_required(admin: Professional, required: bool, ctx: AuditContext) -> Ended:
    """Require (or stop requiring) two-step sign-in for everyone.

    Turning it on ends the sessions and revokes the access tokens of everyone without an
    authenticator (credentials given for a password alone), which also closes their open
    websockets; they sign in again and are sent to set one up.
    """
    if admin.role != Role.ADMIN:
        raise Forbidden("Only administrators change site settings.")
    if required and not await has_mfa(admin):
        raise Forbidden("Set up two-step sign-in for yourself before requiring it of everyone.")
    ended = Ended()
    async with in_transaction():
        await SiteSetting.update_or_create(
            key=REQUIRE_MFA, defaults={"value": {"required": required}, "updated_by_id": admin.id}
        )
        if required:
            ended = await _end_password_only_access()
        detail = {"required": required, "sessions_ended": ended.sessions}
        detail["tokens_revoked"] = ended.tokens
        await audit.record(AuditAction.MFA_REQUIRE, ctx, actor=admin, detail=detail)
    return ended


async def _end_password_only_access() -> Ended:
    enrolled = Subquery(MfaFactor.filter(confirmed_at__isnull=False).values("professional_id"))
    now = utcnow()
    sessions = await (
        Session.filter(revoked_at__isnull=True)
        .exclude(professional_id__in=enrolled)
        .update(revoked_at=now)
    )
    tokens = await (
        ApiToken.filter(revoked_at__isnull=True)
        .exclude(professional_id__in=enrolled)
        .update(revoked_at=now)
    )
    return Ended(sessions, tokens)
