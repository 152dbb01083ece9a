"""Account protection: the hard lock after many failed sign-ins in a row (an administrator
unlocks), the password asked again before a sensitive change, and changing one's
password with the old one (which ends every session and token)."""

from __future__ import annotations

import asyncio

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from feeds import audit
from feeds.accounts.credentials import Ended, end_credentials
from feeds.accounts.passwords import hash_password, verify_password
from feeds.accounts.people import MIN_PASSWORD
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden, Invalid, NotFound
from feeds.models import Professional, Role

# Failures in a row (passwords and codes, from any address, with no completed sign-in
# between) before an account locks: NIST SP 800-63B's ceiling of 100. High, because anyone
# who knows an email can cause failures; the delays per address (feeds/accounts/
# throttle.py) make reaching it slow.
LOCK_AFTER = 100
MAX_PASSWORD = 1024


async def do_record_failed_login(user: Professional, ctx: AuditContext) -> None:
    """Count one more consecutive failure; lock the account when it reaches LOCK_AFTER."""
    await Professional.filter(id=user.id).update(failed_logins=F("failed_logins") + 1)
    await user.refresh_from_db(fields=["failed_logins", "locked_at"])
    if user.failed_logins >= LOCK_AFTER and user.locked_at is None:
        user.locked_at = utcnow()
        await user.save(update_fields=["locked_at"])
        await audit.record(AuditAction.ACCOUNT_LOCK, ctx, actor=user, outcome=AuditOutcome.LOCKED)


async def do_record_good_login(user: Professional) -> None:
    if user.failed_logins:
        user.failed_logins = 0
        await user.save(update_fields=["failed_logins"])


async def do_unlock(admin: Professional, professional_id: int, ctx: AuditContext) -> Professional:
    """An administrator unlocks an account and clears its failure count."""
    if admin.role != Role.ADMIN:
        raise Forbidden("Only administrators unlock accounts.")
    person = await Professional.get_or_none(id=professional_id)
    if person is None:
        raise NotFound("No such professional.")
    person.locked_at, person.failed_logins = None, 0
    await person.save(update_fields=["locked_at", "failed_logins"])
    await audit.record(
        AuditAction.ACCOUNT_UNLOCK, ctx, actor=admin, detail={"professional_id": person.id}
    )
    return person


def check_new_password(password: object) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(
            f"New passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
            field="new_password",
        )
    return password


async def check_current_password(
    user: Professional,
    password: object,
    ctx: AuditContext,
    action: AuditAction = AuditAction.PASSWORD_CONFIRM,
    field: str = "password",
) -> str:
    """The password again, before a sensitive change: a wrong one is audited as a failed
    credential (throttled and counted towards the lock like a failed sign-in)."""
    if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD:
        raise Invalid("Enter your current password.", field=field)  # not a guess
    if await asyncio.to_thread(verify_password, user.password_hash, password):
        return password
    await audit.record(action, ctx, actor=user, outcome=AuditOutcome.FAILED)
    await do_record_failed_login(user, ctx)
    raise Invalid("The current password is not right.", field=field)


async def do_change_password(
    user: Professional, old: object, new: object, ctx: AuditContext
) -> Ended:
    """Replace the password after checking the old one, and end every session and token
    (hashing runs off the event loop)."""
    old_password = await check_current_password(
        user, old, ctx, AuditAction.PASSWORD_CHANGE, "old_password"
    )
    password = check_new_password(new)
    if password == old_password:
        raise Invalid("Choose a password different from the current one.", field="new_password")
    new_hash = await asyncio.to_thread(hash_password, password)
    async with in_transaction():
        await Professional.filter(id=user.id).update(password_hash=new_hash)
        ended = await end_credentials(user)
        detail = {"sessions_ended": ended.sessions, "tokens_revoked": ended.tokens}
        await audit.record(AuditAction.PASSWORD_CHANGE, ctx, actor=user, detail=detail)
    user.password_hash = new_hash
    return ended
