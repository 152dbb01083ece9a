"""Sign-in in two steps: after the password, a session is "MFA pending" until a code
is entered (or, when the site requires MFA, until an authenticator is set up).

A pending session is a row in `session` with `mfa_pending` set and a short life; the
ordinary session lookup (`auth.session_user`) refuses it, so it reaches nothing but the
endpoints declared `mfa_step` here, and logout. Success revokes it and starts a new
full session with a new id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache, wraps
from typing import Literal
from urllib.parse import urlencode

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from feeds.accounts import lockout, mfa, site_settings, throttle
from feeds.accounts.mfa_keys import SecretBox
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden
from feeds.models import Professional, Role, Session
from server import auth, cookies
from server.endpoints import (
    Endpoint,
    NotAuthenticated,
    audit_context,
    bearer_token,
    resolve_user,
    settings_of,
)
from server.settings import Settings

PENDING_FOR_CODE = timedelta(minutes=5)
PENDING_FOR_ENROLMENT = timedelta(minutes=15)  # time to install an app and scan

Stage = Literal["full", "code", "enrol"]


@lru_cache(maxsize=4)
def _box(keys: tuple[str, ...]) -> SecretBox:
    return SecretBox(keys)


def box_for(settings: Settings) -> SecretBox:
    """Seals and opens authenticator secrets with these settings' keys (JIGSAW_MFA_KEYS)."""
    return _box(tuple(str(key) for key in settings.mfa_keys))


def secret_box(conn: HTTPConnection) -> SecretBox:
    return box_for(settings_of(conn))


@dataclass(frozen=True)
class SignIn:
    """Who is signing in and how far they got; `session_id` is the stored (hashed) id."""

    user: Professional
    stage: Stage
    session_id: str | None


async def stage_after_password(user: Professional) -> Stage:
    """What a correct password leads to: a code, enrolment, or a full session."""
    if await mfa.has_mfa(user):
        return "code"
    return "enrol" if await site_settings.mfa_required() else "full"


async def start_sign_in(
    request: Request, user: Professional, stage: Stage, via_sso: bool = False
) -> auth.NewSession:
    """A full session, or a short-lived pending one for the code or enrolment step."""
    pending = {"full": None, "code": PENDING_FOR_CODE, "enrol": PENDING_FOR_ENROLMENT}[stage]
    if stage == "full":
        await lockout.do_record_good_login(user)
    return await auth.start_session(
        user,
        settings_of(request),
        audit_context(request),
        request.headers.get("user-agent", ""),
        mfa_pending_for=pending,
        via_sso=via_sso,
    )


async def _pending(raw_id: str) -> Session | None:
    return (
        await Session.filter(
            id=auth.digest(raw_id),
            revoked_at__isnull=True,
            mfa_pending=True,
            expires_at__gt=utcnow(),
            professional__is_active=True,
        )
        .select_related("professional__agency")
        .first()
    )


async def signed_in(conn: HTTPConnection) -> SignIn | None:
    """The caller with a full session or token, or part-way through signing in."""
    user = await resolve_user(conn)
    if user is not None:
        return SignIn(user, "full", None)
    raw = conn.cookies.get(settings_of(conn).session_cookie)
    if bearer_token(conn) is not None or not raw:
        return None
    session = await _pending(raw)
    if session is None:
        return None
    person: Professional = session.professional
    stage: Stage = "code" if await mfa.has_mfa(person) else "enrol"
    return SignIn(person, stage, session.id)


async def finish_sign_in(request: Request, sign_in: SignIn, ctx: AuditContext) -> auth.NewSession:
    """The second step succeeded: end the pending session, start a full one (new id)."""
    via_sso = False
    if sign_in.session_id is not None:
        # A sign-in that began at the provider stays one (its logout ends that session too).
        via_sso = await Session.filter(id=sign_in.session_id, via_sso=True).exists()
        await Session.filter(id=sign_in.session_id).update(revoked_at=utcnow())
    await lockout.do_record_good_login(sign_in.user)
    return await auth.start_session(
        sign_in.user,
        settings_of(request),
        ctx,
        request.headers.get("user-agent", ""),
        via_sso=via_sso,
    )


async def check_code_throttle(user: Professional, ctx: AuditContext) -> None:
    """Wrong codes are throttled like wrong passwords, wherever a code is typed."""
    await auth.check_throttle(user.email, ctx.ip)


async def check_code_at_sign_in(
    user: Professional, code: object, recovery_code: object, ctx: AuditContext, box: SecretBox
) -> None:
    """Throttled like passwords; a wrong code also counts towards the account lockout."""
    if user.locked_at is not None:
        raise auth.LoginThrottled(throttle.MAX_DELAY)
    await check_code_throttle(user, ctx)
    try:
        await mfa.check_second_factor(user, code, recovery_code, ctx, box)
    except mfa.CodeRefused:
        await lockout.do_record_failed_login(user, ctx)
        raise
    await lockout.do_record_good_login(user)


async def check_password_again(request: Request, user: Professional, password: object) -> None:
    """The current password, before changing how this person signs in: a session or a
    token alone is not enough (throttled and audited like a sign-in)."""
    ctx = audit_context(request)
    await check_code_throttle(user, ctx)
    await lockout.check_current_password(user, password, ctx)


async def renew_session(request: Request, user: Professional, response: Response) -> None:
    """After a change that ended every session and token (a new password or authenticator):
    a browser that made it carries on in a fresh session (new id); a token client, whose
    token ended too, makes a new one."""
    settings = settings_of(request)
    if bearer_token(request) is not None or not request.cookies.get(settings.session_cookie):
        return
    new = await auth.start_session(
        user, settings, audit_context(request), request.headers.get("user-agent", "")
    )
    cookies.set_session_cookie(response, new.raw_id, settings)


def check_admin(user: Professional) -> None:
    if user.role != Role.ADMIN:
        raise Forbidden("Only administrators manage two-step sign-in for the site.")


def page_for(stage: Stage, target: str) -> str:
    """Where a browser goes next at this stage, carrying the page it asked for."""
    query = urlencode({"next": target})
    return {"full": target, "code": f"/login/mfa?{query}", "enrol": f"/account/mfa?{query}"}[stage]


def mfa_step(endpoint: Callable[[Request, SignIn], Awaitable[Response]]) -> Endpoint:
    """Declare an endpoint reachable part-way through sign-in (MFA pending) as well as
    when signed in; it receives the SignIn and must check its stage."""

    @wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        sign_in = await signed_in(request)
        if sign_in is None:
            raise NotAuthenticated
        return await endpoint(request, sign_in)

    wrapper.policy = "mfa_step"  # type: ignore[attr-defined]
    return wrapper
