"""JSON API for two-step sign-in: status, set-up, recovery codes, turning it off, and the
administrators' reset and site requirement. Login itself is in api_auth."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds.accounts import mfa, site_settings
from feeds.accounts.mfa_keys import SecretBox
from feeds.audit.records import AuditContext
from feeds.errors import Forbidden, Invalid
from feeds.models import Professional
from feeds.serializers import me_view
from server import auth, cookies, mfa_auth
from server.endpoints import audit_context, authenticated, path_id, read_json, settings_of
from server.mfa_auth import SignIn, check_admin, mfa_step


def mfa_error(
    status: int, code: str, message: str, field: str | None = None, **extra: Any
) -> JSONResponse:
    """The usual error body, plus flags for clients (mfa_required, mfa_enrolment_required)."""
    body = {"error": {"code": code, "message": message, "field": field}, **extra}
    return JSONResponse(body, status_code=status)


ENROL_FIRST = (
    "Two-step sign-in is required on this site and this account has no authenticator yet: "
    "set one up (POST /api/v1/auth/mfa/enrol with the pending session, or sign in on the web)."
)


async def second_factor(
    user: Professional, data: dict[str, Any], ctx: AuditContext, box: SecretBox
) -> JSONResponse | None:
    """At API sign-in for an account with MFA: None when `code` or `recovery_code` is
    right, else the 401 to send (with "mfa_required": true)."""
    code, recovery = data.get("code"), data.get("recovery_code")
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


@mfa_step
async def status(request: Request, sign_in: SignIn) -> Response:
    enabled = await mfa.has_mfa(sign_in.user)
    # Someone with only the password learns nothing about the recovery codes.
    show_codes = enabled and sign_in.stage == "full"
    return JSONResponse(
        {
            "enabled": enabled,
            "required": await site_settings.mfa_required(),
            "recovery_codes_left": await mfa.recovery_codes_left(sign_in.user) if show_codes else 0,
            "stage": sign_in.stage,
        }
    )


def _no_code_stage(sign_in: SignIn) -> None:
    if sign_in.stage == "code":
        raise Forbidden("Sign in with your code first (POST /api/v1/auth/login with `code`).")


async def _password_unless_signing_in(request: Request, sign_in: SignIn) -> dict[str, Any]:
    """The JSON body; signed in (by session or token), it must carry the `password` too.
    Part-way through signing in, the password was given minutes ago."""
    if sign_in.stage == "enrol":
        return await read_json(request) if await request.body() else {}
    data = await read_json(request)
    await mfa_auth.check_password_again(request, sign_in.user, data.get("password"))
    return data


@mfa_step
async def enrol(request: Request, sign_in: SignIn) -> Response:
    """A new secret to add to an authenticator app; confirm it with a code."""
    _no_code_stage(sign_in)
    await _password_unless_signing_in(request, sign_in)
    box = mfa_auth.secret_box(request)
    factor = await mfa.do_start_enrolment(sign_in.user, box)
    uri = mfa.provisioning_uri(factor, sign_in.user.email, box)
    return JSONResponse({"secret": mfa.shown_secret(factor, box), "otpauth_uri": uri})


@mfa_step
async def confirm(request: Request, sign_in: SignIn) -> Response:
    """Turn it on with a first code, ending every other session and every token; a
    pending session becomes a full one, a signed-in browser gets a fresh session."""
    _no_code_stage(sign_in)
    data = await _password_unless_signing_in(request, sign_in)
    ctx, box = audit_context(request), mfa_auth.secret_box(request)
    await mfa_auth.check_code_throttle(sign_in.user, ctx)
    codes = await mfa.do_confirm_enrolment(sign_in.user, data.get("code"), ctx, box)
    response = JSONResponse({"recovery_codes": codes, "me": me_view(sign_in.user)})
    if sign_in.stage == "enrol":
        new = await mfa_auth.finish_sign_in(request, sign_in, ctx)
        cookies.set_session_cookie(response, new.raw_id, settings_of(request))
    else:
        await mfa_auth.renew_session(request, sign_in.user, response)
    return response


@authenticated
async def regenerate(request: Request, user: Professional) -> Response:
    data = await read_json(request)
    ctx = audit_context(request)
    await mfa_auth.check_code_throttle(user, ctx)
    codes = await mfa.do_regenerate_recovery_codes(
        user, data.get("code"), ctx, mfa_auth.secret_box(request)
    )
    return JSONResponse({"recovery_codes": codes})


@authenticated
async def disable(request: Request, user: Professional) -> Response:
    """Turn it off: the current password and a current code."""
    data = await read_json(request)
    await mfa_auth.check_password_again(request, user, data.get("password"))
    ctx, required = audit_context(request), await site_settings.mfa_required()
    await mfa.do_disable(user, data.get("code"), ctx, required, mfa_auth.secret_box(request))
    return Response(status_code=204)


@authenticated
async def reset(request: Request, user: Professional) -> Response:
    """Administrators, with their password: remove someone's authenticator and end their
    sessions."""
    check_admin(user)
    data = await read_json(request)
    await mfa_auth.check_password_again(request, user, data.get("password"))
    person = await mfa.do_admin_reset(
        user, path_id(request, "professional_id"), audit_context(request)
    )
    ended = await auth.end_all_sessions(person)
    return JSONResponse({"id": person.id, "mfa_enabled": False, "sessions_ended": ended})


@authenticated
async def get_requirement(request: Request, user: Professional) -> Response:
    check_admin(user)
    return JSONResponse({"required": await site_settings.mfa_required()})


@authenticated
async def set_requirement(request: Request, user: Professional) -> Response:
    data = await read_json(request)
    required = data.get("required")
    if not isinstance(required, bool):
        raise Invalid("required must be true or false.", field="required")
    ended = await site_settings.do_set_mfa_required(user, required, audit_context(request))
    return JSONResponse(
        {"required": required, "sessions_ended": ended.sessions, "tokens_revoked": ended.tokens}
    )


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
