"""One-time sign-in links: how an authority without an email server lets people in.

An administrator makes a link for a person (imported people have no usable password) and
passes it on; the person opens it, sets a password and is signed in. The token is random
(256 bits), shown once, and only its SHA-256 is stored, as for sessions and access tokens.
A link lasts LIFETIME, works once, and dies when a newer one is made for the same person
or their credentials end (deactivation, a password change: feeds/accounts/credentials.py).
The token never goes into an audit record: records name the link by its id.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Subquery

from feeds import audit, events
from feeds.accounts.credentials import end_credentials
from feeds.accounts.lockout import check_new_password
from feeds.accounts.passwords import UNUSABLE_PREFIX, hash_password
from feeds.accounts.sign_in_link_model import SignInLink
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Conflict, Invalid, NotFound
from feeds.models import Professional
from feeds.organisation.admin import Actor, check_admin

LIFETIME = timedelta(hours=72)
# The throttle key of failed uses: the email is not known from a token, so every refused
# link from one address counts against that address (feeds/accounts/throttle.py).
THROTTLE_KEY = ""
MAX_TOKEN = 100  # token_urlsafe(32) is 43 characters; anything much longer is no token


class LinkRefused(NotFound):
    """Unknown, expired, used, replaced, or for a deactivated person: one answer for all."""


REFUSED = (
    "This sign-in link cannot be used: it may have expired (links last 72 hours), been "
    "used already, or been replaced by a newer one. Ask your administrator for a new link."
)


@dataclass(frozen=True)
class NewLink:
    token: str  # shown once, never stored
    link: SignInLink
    person: Professional


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def has_usable_password(person: Professional) -> bool:
    return not person.password_hash.startswith(UNUSABLE_PREFIX)


async def _refuse_creation(
    actor: Actor, person: Professional, reason: str, ctx: AuditContext
) -> None:
    detail = {"professional_id": person.id, "reason": reason}
    denied = AuditOutcome.DENIED
    await audit.record(
        AuditAction.SIGN_IN_LINK_CREATE, ctx, actor=actor, outcome=denied, detail=detail
    )


async def check_may_have_link(
    actor: Actor,
    person: Professional,
    passwords_allowed: Callable[[Professional], bool],
    ctx: AuditContext,
) -> None:
    """Conflict for a deactivated person or for oneself (a session alone must not reset its
    own password); Invalid when this person signs in through the organisation's provider
    (no password here); all audited as refusals."""
    if actor is not None and actor.id == person.id:
        await _refuse_creation(actor, person, "own account", ctx)
        raise Conflict(
            "You cannot make a sign-in link for your own account: ask another administrator."
        )
    if not person.is_active:
        await _refuse_creation(actor, person, "deactivated", ctx)
        raise Conflict(f"{person.name}'s account is deactivated: reactivate it first.")
    if not passwords_allowed(person):
        await _refuse_creation(actor, person, "local passwords off", ctx)
        raise Invalid(
            f"{person.name} signs in through the organisation's sign-in service: this site "
            "keeps no password for them, so a sign-in link would not help."
        )


async def do_create_link(
    actor: Actor,
    professional_id: int,
    passwords_allowed: Callable[[Professional], bool],
    ctx: AuditContext,
) -> NewLink:
    """A new link for this person, valid for LIFETIME; their older links stop working.
    `passwords_allowed` says whether this site keeps a password for them."""
    await check_admin(actor, AuditAction.SIGN_IN_LINK_CREATE, ctx)
    person = await Professional.get_or_none(id=professional_id)
    if person is None:
        raise NotFound("No such professional.")
    await check_may_have_link(actor, person, passwords_allowed, ctx)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with events.transaction():
        replaced = await SignInLink.filter(
            professional_id=person.id, used_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        link = await SignInLink.create(
            professional=person,
            token_hash=digest(token),
            created_by_id=actor.id if actor else None,
            expires_at=now + LIFETIME,
        )
        detail = {
            "professional_id": person.id,
            "link_id": link.id,
            "expires_at": link.expires_at.isoformat(),
            "replaced": replaced,
        }
        await audit.record(AuditAction.SIGN_IN_LINK_CREATE, ctx, actor=actor, detail=detail)
    return NewLink(token, link, person)


def _why_unusable(link: SignInLink | None, now: datetime) -> str:
    if link is None:
        return "unknown"
    if link.used_at is not None:
        return "used"
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    if not link.professional.is_active:
        return "deactivated"
    return ""


async def _refuse_use(link: SignInLink | None, reason: str, ctx: AuditContext) -> LinkRefused:
    detail: dict[str, object] = {"reason": reason}
    if link is not None:
        detail |= {"link_id": link.id, "professional_id": link.professional_id}
    await audit.record(
        AuditAction.SIGN_IN_LINK_USE,
        ctx,
        actor_email=THROTTLE_KEY,
        outcome=AuditOutcome.FAILED,
        detail=detail,
    )
    return LinkRefused(REFUSED)


async def check_link(token: str, ctx: AuditContext) -> SignInLink:
    """The usable link behind this token (its person loaded), or LinkRefused, audited as
    a failed credential whatever the reason (the caller throttles first)."""
    found = None
    if 20 <= len(token) <= MAX_TOKEN:
        found = (
            await SignInLink.filter(token_hash=digest(token)).select_related("professional").first()
        )
    reason = _why_unusable(found, utcnow())
    if reason:
        raise await _refuse_use(found, reason, ctx)
    assert found is not None
    return found


async def do_use_link(token: str, password: object, ctx: AuditContext) -> Professional:
    """Set the person's password from a usable link, once: the link is spent, the account
    unlocked, and every older session and token ended. Hashing runs off the event loop."""
    link = await check_link(token, ctx)
    new_password = check_new_password(password)
    new_hash = await asyncio.to_thread(hash_password, new_password)
    person: Professional = link.professional
    if not await _set_password(link, person, new_hash, ctx):
        raise await _refuse_use(link, "used", ctx)  # another use won the race
    person.password_hash, person.failed_logins, person.locked_at = new_hash, 0, None
    return person


async def _set_password(
    link: SignInLink, person: Professional, new_hash: str, ctx: AuditContext
) -> bool:
    """Spend the link (a compare-and-set: of two uses at once, one wins) and set the
    password, in one transaction; False when the link was spent meanwhile."""
    async with events.transaction():
        spent = await SignInLink.filter(
            id=link.id, used_at__isnull=True, revoked_at__isnull=True
        ).update(used_at=utcnow())
        if not spent:
            return False
        await Professional.filter(id=person.id).update(
            password_hash=new_hash, failed_logins=0, locked_at=None
        )
        ended = await end_credentials(person)
        detail = {
            "link_id": link.id,
            "sessions_ended": ended.sessions,
            "tokens_revoked": ended.tokens,
        }
        await audit.record(AuditAction.SIGN_IN_LINK_USE, ctx, actor=person, detail=detail)
    return True


async def without_password(emails: list[str] | None) -> list[Professional]:
    """Active people with no usable password: those with these emails, or else those never
    given a link (just imported), by email."""
    found = Professional.filter(is_active=True, password_hash__startswith=UNUSABLE_PREFIX)
    if emails is not None:
        found = found.filter(email__in=[email.strip().lower() for email in emails])
    else:
        linked = Subquery(SignInLink.all().values("professional_id"))
        found = found.exclude(id__in=linked)
    return await found.order_by("email")
