"""Who a provider's signed-in person is here: by their stored (issuer, subject), or on the
first sign-in by a verified email (then the subject is stored); anyone else is refused and
audited. And whether the provider's sign-in already counted as multi-factor."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from feeds import audit
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden
from feeds.models import Professional
from feeds.sso.models import SsoIdentity

REFUSED = (
    "Your organisation signed you in, but there is no Jigsaw account for you here. "
    "Ask your Jigsaw administrator to add you."
)


class SsoRefused(Forbidden):
    """The provider vouched for someone who has no (active) account here."""


@dataclass(frozen=True)
class ProviderClaims:
    """What a validated ID token says about the person (the rest is ignored)."""

    issuer: str
    subject: str
    email: str = ""
    email_verified: bool = False
    amr: tuple[str, ...] = ()
    acr: str = ""


def provider_did_mfa(
    claims: ProviderClaims, mfa_amr: Iterable[str], mfa_acr: Iterable[str]
) -> bool:
    """True when the token says the provider used more than one factor: an `amr` method that
    counts (RFC 8176: mfa, otp, hwk, ...) or an `acr` level configured as multi-factor."""
    return bool(set(claims.amr) & set(mfa_amr)) or (bool(claims.acr) and claims.acr in mfa_acr)


async def do_identify(claims: ProviderClaims, ctx: AuditContext) -> Professional:
    """The active professional this provider's person is, linking them on a first sign-in
    by verified email; SsoRefused (audited) for anyone else."""
    found = await _linked(claims)
    if found is not None:
        return await _signed_in(found, claims, ctx)
    person = await _by_verified_email(claims)
    if person is None:
        await _refuse(claims, ctx, "no account with this verified email")
    try:
        return await _link(person, claims, ctx)
    except IntegrityError:
        # Linked meanwhile: by a parallel first sign-in (the same subject), or to another.
        again = await _linked(claims)
        if again is None:
            await _refuse(claims, ctx, "account already linked to another identity")
        return await _signed_in(again, claims, ctx)


async def do_record_sign_in(
    person: Professional, claims: ProviderClaims, ctx: AuditContext, pending: bool
) -> None:
    """The sign-in, as a LOGIN like a password's (`pending`: our own code is still to come)."""
    await audit.record(
        AuditAction.LOGIN,
        ctx,
        actor=person,
        outcome=AuditOutcome.MFA_PENDING if pending else AuditOutcome.OK,
        detail={"via": "oidc", "amr": list(claims.amr), "acr": claims.acr},
    )


async def _linked(claims: ProviderClaims) -> SsoIdentity | None:
    return await SsoIdentity.get_or_none(
        issuer=claims.issuer, subject=claims.subject
    ).select_related("professional__agency")


async def _signed_in(
    identity: SsoIdentity, claims: ProviderClaims, ctx: AuditContext
) -> Professional:
    person: Professional = identity.professional
    if not person.is_active:
        await _refuse(claims, ctx, "account deactivated", person)
    await SsoIdentity.filter(id=identity.id).update(last_login_at=utcnow())
    return person


async def _by_verified_email(claims: ProviderClaims) -> Professional | None:
    if not (claims.email and claims.email_verified):
        return None
    return await Professional.get_or_none(
        email=claims.email.strip().lower(), is_active=True
    ).select_related("agency")


async def _link(person: Professional, claims: ProviderClaims, ctx: AuditContext) -> Professional:
    """Store the subject (one identity per provider and person) and audit the link."""
    async with in_transaction():
        await SsoIdentity.create(
            issuer=claims.issuer,
            subject=claims.subject,
            professional=person,
            email_at_link=claims.email[:254],
            last_login_at=utcnow(),
        )
        await audit.record(
            AuditAction.SSO_LINK,
            ctx,
            actor=person,
            detail={"issuer": claims.issuer, "subject": claims.subject},
        )
    return person


async def _refuse(
    claims: ProviderClaims, ctx: AuditContext, reason: str, person: Professional | None = None
) -> NoReturn:
    await audit.record(
        AuditAction.SSO_REFUSED,
        ctx,
        actor=person,
        actor_email=claims.email[:254],
        outcome=AuditOutcome.DENIED,
        detail={"issuer": claims.issuer, "subject": claims.subject[:255], "reason": reason},
    )
    raise SsoRefused(REFUSED)
