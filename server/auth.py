"""Login, server-side sessions, personal access tokens; password hashing off the event loop.

The session cookie carries only a random id; the database stores its SHA-256, so a
database leak does not hand out live sessions. Tokens are stored the same way.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool

from feeds import audit, raw_sql
from feeds.accounts import lockout, mfa, throttle
from feeds.accounts.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Invalid, NotFound
from feeds.models import Agency, ApiToken, Professional, Role, Session
from server.settings import Settings
from server.sso_settings import LocalPasswords

TOKEN_PREFIX = "jgw_"  # noqa: S105 - a public marker, not a secret
# Touch last_seen_at at most this often, to avoid a write on every request.
TOUCH_EVERY = timedelta(minutes=1)


def idle_since(now: datetime, idle: timedelta) -> datetime:
    """The idle rule's one home: a session last seen before this moment has ended (here on
    every request; for open sockets in server/sessions_watch.py, as SQL)."""
    return now - idle


class LoginThrottled(Exception):
    """Too many recent failures for this account from this address, from this address
    overall, or for this account overall (locked): answered 429 with Retry-After."""

    def __init__(self, retry_after: timedelta = throttle.FIRST_DELAY) -> None:
        super().__init__()
        self.retry_after = math.ceil(max(retry_after.total_seconds(), 1))


class LoginFailed(Invalid):
    """Wrong email or password: one message for both (401), so emails cannot be probed."""


class PasswordsOff(LoginFailed):
    """A right password, but this person signs in through the organisation's provider."""


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def normalise_email(email: object) -> str:
    if not isinstance(email, str) or not 3 <= len(email) <= 254 or "@" not in email:
        raise Invalid("Enter a valid email address.", field="email")
    return email.strip().lower()


def check_password_field(password: object) -> str:
    if not isinstance(password, str) or not 1 <= len(password) <= 1024:
        raise Invalid("Enter your password.", field="password")
    return password


async def check_throttle(email: str, ip: str) -> None:
    """LoginThrottled while recent failed passwords or codes for this email from this
    address (or from this address overall) ask for a wait (feeds/accounts/throttle.py)."""
    wait = await throttle.wait_before_attempt(email, ip)
    if wait > timedelta(0):
        raise LoginThrottled(wait)


async def verify_credentials(
    email: object,
    password: object,
    ctx: AuditContext,
    local_passwords: LocalPasswords = LocalPasswords.ALL,
) -> Professional:
    """The professional for these credentials, or Invalid with one message for every failure
    (and, after a right password, a refusal when this site keeps passwords for others)."""
    address, secret = normalise_email(email), check_password_field(password)
    await check_throttle(address, ctx.ip)
    user = await Professional.get_or_none(email=address, is_active=True)
    if user is not None and user.locked_at is not None:
        await audit.record(AuditAction.LOGIN, ctx, actor_email=address, outcome=AuditOutcome.LOCKED)
        # The answer of throttling (no hint that the email exists), at the longest delay.
        raise LoginThrottled(throttle.MAX_DELAY)
    # Verify against a dummy hash for unknown emails so both paths take the same time.
    ok = await run_in_threadpool(
        verify_password, user.password_hash if user else DUMMY_HASH, secret
    )
    if user is None or not ok:
        await audit.record(AuditAction.LOGIN, ctx, actor_email=address, outcome=AuditOutcome.FAILED)
        if user is not None:
            await lockout.do_record_failed_login(user, ctx)
        raise LoginFailed("Email or password is not right.")
    await check_password_allowed(user, local_passwords, ctx)
    if needs_rehash(user.password_hash):
        user.password_hash = await run_in_threadpool(hash_password, secret)
        await user.save(update_fields=["password_hash"])
    # With two-step sign-in the failure count is cleared only once the code is right too.
    pending = await mfa.has_mfa(user)
    if not pending:
        await lockout.do_record_good_login(user)
    await audit.record(
        AuditAction.LOGIN,
        ctx,
        actor=user,
        outcome=AuditOutcome.MFA_PENDING if pending else AuditOutcome.OK,
    )
    return user


def may_use_password(user: Professional, local_passwords: LocalPasswords) -> bool:
    """JIGSAW_LOCAL_PASSWORDS: everyone, administrators only (a way in while the provider is
    down), or nobody (single sign-on only)."""
    if local_passwords == LocalPasswords.ADMINS:
        return user.role == Role.ADMIN
    return local_passwords == LocalPasswords.ALL


async def check_password_allowed(
    user: Professional, local_passwords: LocalPasswords, ctx: AuditContext
) -> None:
    """Refused after a right password (audited, not counted as a guess) when this person
    signs in through the organisation's provider instead."""
    if may_use_password(user, local_passwords):
        return
    await audit.record(
        AuditAction.LOGIN,
        ctx,
        actor=user,
        outcome=AuditOutcome.DENIED,
        detail={"reason": "local passwords off"},
    )
    only = "passwords here are for administrators only"
    raise PasswordsOff(
        "Sign in through your organisation's sign-in service: "
        + (only if local_passwords == LocalPasswords.ADMINS else "this site does not use passwords")
        + "."
    )


@dataclass(frozen=True)
class NewSession:
    raw_id: str  # goes in the cookie, never stored
    session: Session


async def start_session(
    user: Professional,
    settings: Settings,
    ctx: AuditContext,
    user_agent: str,
    mfa_pending_for: timedelta | None = None,
    via_sso: bool = False,
) -> NewSession:
    """A fresh session id for every login (no fixation); a short-lived MFA-pending one
    when `mfa_pending_for` is given (it reaches only the code and enrolment pages)."""
    raw = secrets.token_urlsafe(32)  # 256 bits
    now = utcnow()
    session = await Session.create(
        id=digest(raw),
        professional=user,
        last_seen_at=now,
        expires_at=now + (mfa_pending_for or settings.session_absolute),
        ip=ctx.ip,
        user_agent=user_agent[:300],
        mfa_pending=mfa_pending_for is not None,
        via_sso=via_sso,
    )
    return NewSession(raw, session)


async def session_user(raw_id: str, settings: Settings, touch: bool = True) -> Professional | None:
    """The active professional behind a session cookie, enforcing idle and absolute limits;
    `touch` counts this as activity (moves the idle timer on)."""
    # One query: the session, its professional and their agency (every request pays it).
    session = (
        await Session.filter(
            id=digest(raw_id),
            revoked_at__isnull=True,
            mfa_pending=False,  # half-way through sign-in is not signed in
            professional__is_active=True,
        )
        .select_related("professional__agency")
        .first()
    )
    now = utcnow()
    if session is None or session.expires_at <= now:
        return None
    if session.last_seen_at < idle_since(now, settings.session_idle):
        return None
    user: Professional = session.professional
    if touch and now - session.last_seen_at > TOUCH_EVERY:
        await Session.filter(id=session.id).update(last_seen_at=now)
    return user


async def end_session(raw_id: str) -> None:
    await Session.filter(id=digest(raw_id), revoked_at__isnull=True).update(revoked_at=utcnow())


async def end_all_sessions(user: Professional) -> int:
    """Log out everywhere: revoke every session of this professional."""
    return await Session.filter(professional_id=user.id, revoked_at__isnull=True).update(
        revoked_at=utcnow()
    )


def check_token_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        raise Invalid("name must be 1 to 100 characters.", field="name")
    return name.strip()


async def issue_token(user: Professional, name: object) -> tuple[ApiToken, str]:
    """A new personal access token; the raw value is shown once and stored only hashed."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = await ApiToken.create(
        professional=user, name=check_token_name(name), token_hash=digest(raw), prefix=raw[:10]
    )
    return token, raw


# Hand-written: the ORM's three-table select cost more CPU than the query itself, and
# every API request pays it.
BEARER_USER_SQL = (
    "SELECT t.id, t.last_used_at, {people}, {agencies} FROM api_token t "
    "JOIN professional p ON p.id = t.professional_id JOIN agency a ON a.id = p.agency_id "
    "WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND p.is_active"
)


async def token_user(raw: str) -> Professional | None:
    """The active professional behind a bearer token, their agency loaded (one query)."""
    people, agencies = raw_sql.columns(Professional, "p"), raw_sql.columns(Agency, "a")
    sql = BEARER_USER_SQL.format(people=people, agencies=agencies)
    found = await raw_sql.fetch(sql, digest(raw))
    if not found:
        return None
    row = found[0]
    user = raw_sql.from_row(Professional, row, 2)
    user.agency = raw_sql.from_row(Agency, row, 2 + len(raw_sql.column_names(Professional)))
    now = utcnow()
    last_used = raw_sql.python_value(ApiToken, "last_used_at", row[1])
    if last_used is None or now - last_used > TOUCH_EVERY:
        await ApiToken.filter(id=row[0]).update(last_used_at=now)
    return user


async def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await token.save(update_fields=["revoked_at"])


async def tokens_of(user: Professional) -> list[ApiToken]:
    """The caller's tokens, newest first (revoked ones too)."""
    return await ApiToken.filter(professional_id=user.id).order_by("-id")


async def do_revoke_own_token(user: Professional, token_id: int) -> None:
    """Revoke one of the caller's tokens; someone else's is as missing as no token."""
    token = await ApiToken.get_or_none(id=token_id, professional_id=user.id)
    if token is None:
        raise NotFound("No such token.")
    await revoke_token(token)
