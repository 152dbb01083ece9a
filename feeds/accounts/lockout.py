"""Account protection: lockout after repeated failed logins (an administrator unlocks),
and changing one's password with the old one."""

from __future__ import annotations

import asyncio

from tortoise.expressions import F

from feeds import audit
from feeds.accounts.passwords import hash_password, verify_password
from feeds.accounts.people import MIN_PASSWORD
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden, Invalid, NotFound
from feeds.models import Professional, Role

# Consecutive failures before an account locks. High, because anyone who knows an email
# can cause failures; the per-account throttle (10 per 15 minutes) makes reaching it slow.
LOCK_AFTER = 20
MAX_PASSWORD = 1024


async def do_record_failed_login(user: Professional, ctx: AuditContext) -> None:
    """Count one more consecutive failure; lock the account when it reaches LOCK_AFTER."""
    await Professional.filter(id=user.id).update(failed_logins=F("failed_logins") + 1)
    await user.refresh_from_db(fields=["failed_logins", "locked_at"])
    if user.failed_logins >= LOCK_AFTER and user.locked_at is None:
        user.locked_at = utcnow()
        await user.save(update_fields=["locked_at"])
        await audit.record("account.lock", ctx, actor=user, outcome="locked")


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
    await audit.record("account.unlock", ctx, actor=admin, detail={"professional_id": person.id})
    return person


def check_new_password(password: object) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(
            f"New passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
            field="new_password",
        )
    return password


async def do_change_password(
    user: Professional, old: object, new: object, ctx: AuditContext
) -> None:
    """Replace the password after checking the old one (hashing runs off the event loop)."""
    if not isinstance(old, str) or not await asyncio.to_thread(
        verify_password, user.password_hash, old
    ):
        await audit.record("password.change", ctx, actor=user, outcome="failed")
        raise Invalid("The current password is not right.", field="old_password")
    password = check_new_password(new)
    if password == old:
        raise Invalid("Choose a password different from the current one.", field="new_password")
    user.password_hash = await asyncio.to_thread(hash_password, password)
    await user.save(update_fields=["password_hash"])
    await audit.record("password.change", ctx, actor=user)
