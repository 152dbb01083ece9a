"""JSON API for two-step sign-in: status, set-up, recovery codes, turning it off, and the
administrators' reset and site requirement. Login itself is in api_auth."""

from __future__ import annotations

from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.accounts import mfa, site_settings
from feeds.accounts.mfa_keys import SecretBox
from feeds.audit.records import AuditContext
from feeds.errors import Forbidden
from feeds.models import Professional
from feeds.serializers import me_view
from server import auth, cookies, mfa_auth
from server.endpoints import audit_context, authenticated, path_id, settings_of
from server.mfa_auth import SignIn, check_admin, mfa_step
from server.schemas import accounts as schema
from server.schemas.codec import build, decode, reply
from server.schemas.common import ErrorDetail
from server.schemas.operation import api

Again = TypeVar("Again", schema.PasswordAgain, schema.CodeAndPassword)
# Codes are throttled per account (429); 409 when two-step sign-in is not (or already) on.
CODE_ERRORS = {403, 409, 429}


def mfa_error(
    status: int, code: str, message: str, field: str | None = None, **extra: Any
) -> Response:
    """The usual error body, plus flags for clients (mfa_required, mfa_enrolment_required)."""
    body = schema.SignInRefused(ErrorDetail(code, message, field), **extra)
    return reply(body, status)


ENROL_FIRST = (
    "Two-step sign-in is required on this site and this account has no authenticator yet: "
    "set one up (POST /api/v1/auth/mfa/enrol with the pending session, or sign in on the web)."
)


async def second_factor(
    user: Professional, data: schema.Credentials, ctx: AuditContext, box: SecretBox
) -> Response | None:
    """At API sign-in for an account with MFA: None when `code` or `recovery_code` is
    right, else the 401 to send (with "mfa_required": true)."""
    code, recovery = data.code, data.recovery_code
    if code in (None, "") and recovery in (None, ""):
        return mfa_error(
            401,
            "mfa_required",
            "This account uses two-step sign-in: send the 6-digit `code` from the "
            "authenticator app, or a `recovery_code`.",
            field="code",
            mfa_required=True,
        )
    try:
        await mfa_auth.check_code_at_sign_in(user, code, recovery, ctx, box)
    except mfa.CodeRefused as error:
        return mfa_error(401, "mfa_failed", error.message, error.field, mfa_required=True)
    return None


@api(schema.MfaStatus, "Two-step sign-in status (also with an MFA-pending session)")
@mfa_step
async def status(request: Request, sign_in: SignIn) -> Response:
    enabled = await mfa.has_mfa(sign_in.user)
    # Someone with only the password learns nothing about the recovery codes.
    show_codes = enabled and sign_in.stage == "full"
    left = await mfa.recovery_codes_left(sign_in.user) if show_codes else 0
    required = await site_settings.mfa_required()
    return reply(schema.MfaStatus(enabled, required, left, sign_in.stage))


def _no_code_stage(sign_in: SignIn) -> None:
    if sign_in.stage == "code":
        raise Forbidden("Sign in with your code first (POST /api/v1/auth/login with `code`).")


async def _password_unless_signing_in(
    request: Request, sign_in: SignIn, kind: type[Again], required: bool = True
) -> Again | None:
    """The JSON body as `kind`; signed in (by session or token), it must carry the
    `password` too. Part-way through signing in, the password was given minutes ago."""
    if sign_in.stage == "enrol":
        return await decode(request, kind) if required or await request.body() else None
    data = await decode(request, kind)
    await mfa_auth.check_password_again(request, sign_in.user, data.password)
    return data


@api(
    schema.Enrolment,
    "Start setting up an authenticator: a new secret and otpauth URI (signed in: with "
    "your current password)",
    body=schema.PasswordAgain,
    body_required=False,
    errors={409, 429},
    retry_after={429},
)
@mfa_step
async def enrol(request: Request, sign_in: SignIn) -> Response:
    """A new secret to add to an authenticator app; confirm it with a code."""
    _no_code_stage(sign_in)
    await _password_unless_signing_in(request, sign_in, schema.PasswordAgain, required=False)
    box = mfa_auth.secret_box(request)
    factor = await mfa.do_start_enrolment(sign_in.user, box)
    uri = mfa.provisioning_uri(factor, sign_in.user.email, box)
    return reply(schema.Enrolment(mfa.shown_secret(factor, box), uri))


@api(
    schema.MfaOn,
    "Turn two-step sign-in on with a first code (signed in: and your password); recovery "
    "codes, shown once",
    body=schema.CodeAndPassword,
    errors=CODE_ERRORS,
)
@mfa_step
async def confirm(request: Request, sign_in: SignIn) -> Response:
    """Turn it on with a first code, ending every other session and every token; a
    pending session becomes a full one, a signed-in browser gets a fresh session."""
    _no_code_stage(sign_in)
    data = await _password_unless_signing_in(request, sign_in, schema.CodeAndPassword)
    assert data is not None  # a body is required
    ctx, box = audit_context(request), mfa_auth.secret_box(request)
    await mfa_auth.check_code_throttle(sign_in.user, ctx)
    codes = await mfa.do_confirm_enrolment(sign_in.user, data.code, ctx, box)
    response = reply(build(schema.MfaOn, {"recovery_codes": codes, "me": me_view(sign_in.user)}))
    if sign_in.stage == "enrol":
        new = await mfa_auth.finish_sign_in(request, sign_in, ctx)
        cookies.set_session_cookie(response, new.raw_id, settings_of(request))
    else:
        await mfa_auth.renew_session(request, sign_in.user, response)
    return response


@api(
    schema.RecoveryCodes,
    "New recovery codes (the old ones stop working), shown once",
    body=schema.WithCode,
    errors=CODE_ERRORS,
)
@authenticated
async def regenerate(request: Request, user: Professional) -> Response:
    data = await decode(request, schema.WithCode)
    ctx = audit_context(request)
    await mfa_auth.check_code_throttle(user, ctx)
    codes = await mfa.do_regenerate_recovery_codes(
        user, data.code, ctx, mfa_auth.secret_box(request)
    )
    return reply(schema.RecoveryCodes(codes))


@api(
    None,
    "Turn two-step sign-in off with your password and a code (not while the site requires it)",
    status=204,
    body=schema.CodeAndPassword,
    errors=CODE_ERRORS,
)
@authenticated
async def disable(request: Request, user: Professional) -> Response:
    """Turn it off: the current password and a current code."""
    data = await decode(request, schema.CodeAndPassword)
    await mfa_auth.check_password_again(request, user, data.password)
    ctx, required = audit_context(request), await site_settings.mfa_required()
    await mfa.do_disable(user, data.code, ctx, required, mfa_auth.secret_box(request))
    return Response(status_code=204)


@api(
    schema.MfaReset,
    "Administrators, with their password: remove someone's authenticator and end their sessions",
    body=schema.PasswordAgain,
    errors={403, 429},
    retry_after={429},
)
@authenticated
async def reset(request: Request, user: Professional) -> Response:
    """Administrators, with their password: remove someone's authenticator and end their
    sessions."""
    check_admin(user)
    data = await decode(request, schema.PasswordAgain)
    await mfa_auth.check_password_again(request, user, data.password)
    person = await mfa.do_admin_reset(
        user, path_id(request, "professional_id"), audit_context(request)
    )
    ended = await auth.end_all_sessions(person)
    return reply(schema.MfaReset(person.id, False, ended))


@api(schema.Requirement, "Administrators: is two-step sign-in required of everyone?", errors={403})
@authenticated
async def get_requirement(request: Request, user: Professional) -> Response:
    check_admin(user)
    return reply(schema.Requirement(await site_settings.mfa_required()))


@api(
    schema.RequirementSet,
    "Administrators: require it (signs out everyone without it) or not",
    body=schema.Requirement,
    errors={403},
)
@authenticated
async def set_requirement(request: Request, user: Professional) -> Response:
    data = await decode(request, schema.Requirement)
    ended = await site_settings.do_set_mfa_required(user, data.required, audit_context(request))
    return reply(schema.RequirementSet(data.required, ended.sessions, ended.tokens))


routes = [
    Route("/api/v1/auth/mfa", status, methods=["GET"]),
    Route("/api/v1/auth/mfa/enrol", enrol, methods=["POST"]),
    Route("/api/v1/auth/mfa/confirm", confirm, methods=["POST"]),
    Route("/api/v1/auth/mfa/recovery-codes", regenerate, methods=["POST"]),
    Route("/api/v1/auth/mfa/disable", disable, methods=["POST"]),
    Route("/api/v1/professionals/{professional_id}/mfa/reset", reset, methods=["POST"]),
    Route("/api/v1/settings/mfa", get_requirement, methods=["GET"]),
    Route("/api/v1/settings/mfa", set_requirement, methods=["PUT"]),
]
