"""Two-step sign-in: TOTP authenticator apps (RFC 6238) and one-time recovery codes.

A code is accepted for the current 30-second step or one step either side (clock drift),
and only for a step later than the last one accepted for that account, so a code seen
over someone's shoulder cannot be replayed. Recovery codes carry about 50 bits each,
below the 112 bits ASVS 6.5.2 asks of a plain hash, so they are stored with the
project's argon2id password hashing (salted, slow) rather than a keyed hash.

The secret is stored encrypted (feeds/accounts/mfa_keys.py): every function here that
reads or writes it takes the SecretBox.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets

import pyotp
from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from feeds import audit
from feeds.accounts.credentials import end_credentials
from feeds.accounts.mfa_keys import SecretBox
from feeds.accounts.passwords import hash_password, verify_password
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Conflict, Forbidden, Invalid, NotFound
from feeds.models import MfaFactor, Professional, RecoveryCode, Role

ISSUER = "Jigsaw"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: codes are read off paper. 31 symbols x 10 = about 49.5 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10


class CodeRefused(Invalid):
    """A wrong, malformed or replayed code (or recovery code)."""


def current_step() -> int:
    return int(utcnow().timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, step: int) -> int | None:
    """The step within the drift window that `code` was made for, or None."""
    totp = pyotp.TOTP(secret)
    found = None
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        # Compare every candidate in constant time; keep the latest match.
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            found = candidate
    return found


def clean_code(code: object) -> str:
    """Six digits; spaces are allowed because apps show the code as 123 456."""
    text = code.replace(" ", "") if isinstance(code, str) else ""
    if len(text) != 6 or not text.isascii() or not text.isdigit():
        raise CodeRefused("Enter the 6-digit code from your authenticator app.", field="code")
    return text


async def confirmed_factor(user: Professional) -> MfaFactor | None:
    return await MfaFactor.get_or_none(professional_id=user.id, confirmed_at__isnull=False)


async def unconfirmed_factor(user: Professional) -> MfaFactor | None:
    """The authenticator being set up (shown as a QR code until a code confirms it)."""
    return await MfaFactor.get_or_none(professional_id=user.id, confirmed_at__isnull=True)


async def has_mfa(user: Professional) -> bool:
    return await MfaFactor.exists(professional_id=user.id, confirmed_at__isnull=False)


async def _refuse(
    user: Professional, ctx: AuditContext, purpose: str, outcome: AuditOutcome
) -> None:
    # Failed records feed the login throttle (server/auth.py), for every purpose.
    await audit.record(
        AuditAction.MFA_VERIFY, ctx, actor=user, outcome=outcome, detail={"purpose": purpose}
    )


async def check_totp(
    user: Professional,
    factor: MfaFactor,
    code: object,
    ctx: AuditContext,
    purpose: str,
    box: SecretBox,
) -> None:
    """Accept a current code once, or raise CodeRefused (audited). A secret stored in
    plain text, or under an older key, is sealed with the first key on the way."""
    secret = box.open(factor.secret)
    try:
        step = matching_step(secret, clean_code(code), current_step())
    except CodeRefused:
        step = None
    if step is None:
        await _refuse(user, ctx, purpose, AuditOutcome.FAILED)
        raise CodeRefused("That code is not right. Check the time on your phone.", field="code")
    # One conditional UPDATE, so two requests racing with the same code cannot both win.
    fresh = Q(last_used_step__isnull=True) | Q(last_used_step__lt=step)
    changes: dict[str, object] = {"last_used_step": step}
    if not box.is_current(factor.secret):
        changes["secret"] = box.seal(secret)
    if not await MfaFactor.filter(Q(id=factor.id) & fresh).update(**changes):
        await _refuse(user, ctx, purpose, AuditOutcome.REPLAYED)
        raise CodeRefused("That code was used already: wait for the next one.", field="code")


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def _clean_recovery(code: object) -> str:
    text = code.strip().lower().replace("-", "").replace(" ", "") if isinstance(code, str) else ""
    if len(text) != RECOVERY_LENGTH or any(ch not in RECOVERY_ALPHABET for ch in text):
        return ""
    return f"{text[:5]}-{text[5:]}"


async def _hashed_recovery_codes() -> tuple[list[str], list[str]]:
    """New codes and their hashes (argon2 is slow on purpose: hash off the event loop and
    before any transaction, so SQLite's write lock is not held meanwhile)."""
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    return codes, await asyncio.to_thread(lambda: [hash_password(c) for c in codes])


async def _store_recovery_codes(user: Professional, hashes: list[str]) -> None:
    await RecoveryCode.filter(professional_id=user.id).delete()
    await RecoveryCode.bulk_create(
        [RecoveryCode(professional_id=user.id, code_hash=h) for h in hashes]
    )


async def recovery_codes_left(user: Professional) -> int:
    return await RecoveryCode.filter(professional_id=user.id, used_at__isnull=True).count()


def _first_match(hashes: list[tuple[int, str]], code: str) -> int | None:
    return next((id_ for id_, hashed in hashes if verify_password(hashed, code)), None)


async def check_recovery_code(user: Professional, code: object, ctx: AuditContext) -> None:
    """Spend one unused recovery code, or raise CodeRefused (both audited)."""
    text = _clean_recovery(code)
    unused = await RecoveryCode.filter(professional_id=user.id, used_at__isnull=True)
    pairs = [(c.id, c.code_hash) for c in unused]
    found = await asyncio.to_thread(_first_match, pairs, text) if text else None
    # The conditional UPDATE makes each code single-use even under concurrent requests.
    if found is None or not await RecoveryCode.filter(id=found, used_at__isnull=True).update(
        used_at=utcnow()
    ):
        await audit.record(AuditAction.MFA_RECOVERY, ctx, actor=user, outcome=AuditOutcome.FAILED)
        raise CodeRefused("That recovery code is not right, or was used.", field="recovery_code")
    left = await recovery_codes_left(user)
    await audit.record(AuditAction.MFA_RECOVERY, ctx, actor=user, detail={"codes_left": left})


async def check_second_factor(
    user: Professional, code: object, recovery_code: object, ctx: AuditContext, box: SecretBox
) -> None:
    """At sign-in: a TOTP code, or else a recovery code. Raises CodeRefused."""
    factor = await confirmed_factor(user)
    if factor is None:
        raise Conflict("Two-step sign-in is not on for this account.")
    if recovery_code not in (None, ""):
        await check_recovery_code(user, recovery_code, ctx)
        return
    await check_totp(user, factor, code, ctx, "login", box)
    await audit.record(AuditAction.MFA_VERIFY, ctx, actor=user, detail={"purpose": "login"})


async def people_without_mfa(limit: int = 200) -> list[dict[str, str]]:
    """Active professionals with no authenticator yet, for administrators to chase."""
    enrolled = MfaFactor.filter(confirmed_at__isnull=False).values("professional_id")
    rows = (
        await Professional.filter(is_active=True)
        .exclude(id__in=Subquery(enrolled))
        .order_by("name")
        .limit(limit)
        .values("name", "email")
    )
    return [{"name": str(r["name"]), "email": str(r["email"])} for r in rows]


def provisioning_uri(factor: MfaFactor, email: str, box: SecretBox) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(box.open(factor.secret)).provisioning_uri(name=email, issuer_name=ISSUER)


def shown_secret(factor: MfaFactor, box: SecretBox) -> str:
    """The secret in base32, for typing into an app by hand (only while setting up)."""
    return box.open(factor.secret)


async def do_start_enrolment(user: Professional, box: SecretBox) -> MfaFactor:
    """A new unconfirmed factor (a new secret, stored sealed) to show as a QR code."""
    if await has_mfa(user):
        raise Conflict("Two-step sign-in is already on. Turn it off first to change apps.")
    await MfaFactor.filter(professional_id=user.id).delete()
    return await MfaFactor.create(professional_id=user.id, secret=box.seal(pyotp.random_base32()))


async def do_confirm_enrolment(
    user: Professional, code: object, ctx: AuditContext, box: SecretBox
) -> list[str]:
    """Turn two-step sign-in on with a first good code, ending every session and access
    token made with the password alone; returns the recovery codes (once)."""
    factor = await MfaFactor.get_or_none(professional_id=user.id)
    if factor is None:
        raise Conflict("Start setting up two-step sign-in first.")
    if factor.confirmed_at is not None:
        raise Conflict("Two-step sign-in is already on.")
    await check_totp(user, factor, code, ctx, "enrol", box)
    codes, hashes = await _hashed_recovery_codes()
    async with in_transaction():
        await MfaFactor.filter(id=factor.id).update(confirmed_at=utcnow())
        await _store_recovery_codes(user, hashes)
        ended = await end_credentials(user)
        detail = {"sessions_ended": ended.sessions, "tokens_revoked": ended.tokens}
        await audit.record(AuditAction.MFA_ENROL, ctx, actor=user, detail=detail)
    return codes


async def do_regenerate_recovery_codes(
    user: Professional, code: object, ctx: AuditContext, box: SecretBox
) -> list[str]:
    """New recovery codes (the old ones stop working), after a current code."""
    factor = await confirmed_factor(user)
    if factor is None:
        raise Conflict("Two-step sign-in is not on.")
    await check_totp(user, factor, code, ctx, "recovery_codes", box)
    codes, hashes = await _hashed_recovery_codes()
    async with in_transaction():
        await _store_recovery_codes(user, hashes)
        await audit.record(AuditAction.MFA_RECOVERY_CODES, ctx, actor=user)
    return codes


async def _remove(professional_id: int) -> None:
    await RecoveryCode.filter(professional_id=professional_id).delete()
    await MfaFactor.filter(professional_id=professional_id).delete()


async def do_disable(
    user: Professional, code: object, ctx: AuditContext, required: bool, box: SecretBox
) -> None:
    """Turn two-step sign-in off with a current code (not while the site requires it)."""
    if required:
        raise Forbidden(
            "Two-step sign-in is required on this site. An administrator can reset it "
            "if you have lost your authenticator app."
        )
    factor = await confirmed_factor(user)
    if factor is None:
        raise Conflict("Two-step sign-in is not on.")
    await check_totp(user, factor, code, ctx, "disable", box)
    async with in_transaction():
        await _remove(user.id)
        await audit.record(AuditAction.MFA_DISABLE, ctx, actor=user)


async def do_admin_reset(
    admin: Professional, professional_id: int, ctx: AuditContext
) -> Professional:
    """An administrator removes someone's authenticator and recovery codes (lost phone)."""
    if admin.role != Role.ADMIN:
        raise Forbidden("Only administrators reset two-step sign-in.")
    person = await Professional.get_or_none(id=professional_id)
    if person is None:
        raise NotFound("No such professional.")
    async with in_transaction():
        await _remove(person.id)
        await audit.record(
            AuditAction.MFA_RESET, ctx, actor=admin, detail={"professional_id": person.id}
        )
    return person
