"""JSON API: login, logout, the caller, personal access tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.models import Professional
from feeds.serializers import me_view, token_view
from server import auth, cookies, mfa_auth
from server.endpoints import audit_context, authenticated, path_id, public, settings_of
from server.routes.api_mfa import ENROL_FIRST, mfa_error, second_factor
from server.schemas import accounts as schema
from server.schemas.codec import build, decode, reply
from server.schemas.operation import api

# 401: wrong email or password, or a missing or wrong second factor ("mfa_required");
# 403: two-step sign-in must be set up first; 429: too many failures.
SIGN_IN_ERRORS = {401, 403, 429}


@api(
    schema.SignedIn,
    "Sign in (with `code` when the account has MFA); sets the session cookie",
    body=schema.Credentials,
    errors=SIGN_IN_ERRORS,
)
@public
async def login(request: Request) -> Response:
    """Email and password, plus `code` or `recovery_code` when the account has MFA."""
    data = await decode(request, schema.Credentials)
    ctx = audit_context(request)
    user = await auth.verify_credentials(
        data.email, data.password, ctx, settings_of(request).local_passwords
    )
    stage = await mfa_auth.stage_after_password(user)
    if stage == "code":
        box = mfa_auth.secret_box(request)
        if (refused := await second_factor(user, data, ctx, box)) is not None:
            return refused
        stage = "full"
    new = await mfa_auth.start_sign_in(request, user, stage)
    csrf_token = request.scope["csrftoken"]()
    response: Response
    if stage == "enrol":
        # A pending session that reaches only the /api/v1/auth/mfa endpoints.
        response = mfa_error(
            403,
            "mfa_enrolment_required",
            ENROL_FIRST,
            mfa_enrolment_required=True,
            csrf_token=csrf_token,
        )
    else:
        await user.fetch_related("agency")
        response = reply(build(schema.SignedIn, {"me": me_view(user), "csrf_token": csrf_token}))
    cookies.set_session_cookie(response, new.raw_id, settings_of(request))
    return response


@api(None, "End this session", status=204)
@public
async def logout(request: Request) -> Response:
    raw = request.cookies.get(settings_of(request).session_cookie)
    if raw:
        await auth.end_session(raw)
    response = Response(status_code=204)
    cookies.clear_session_cookie(response, settings_of(request))
    return response


@api(schema.SessionsEnded, "End every session of the caller")
@authenticated
async def logout_everywhere(request: Request, user: Professional) -> Response:
    ended = await auth.end_all_sessions(user)
    response = reply(schema.SessionsEnded(ended))
    cookies.clear_session_cookie(response, settings_of(request))
    return response


@api(schema.Me, "The caller")
@authenticated
async def me(request: Request, user: Professional) -> Response:
    return reply(build(schema.Me, me_view(user)))


@api(
    schema.NewToken,
    "Issue a personal access token (shown once)",
    status=201,
    body=schema.TokenCreate,
    errors=SIGN_IN_ERRORS,
)
@public
async def create_token(request: Request) -> Response:
    """Exchange email + password for a personal access token (shown once)."""
    data = await decode(request, schema.TokenCreate)
    name = auth.check_token_name(data.name)
    ctx = audit_context(request)
    user = await auth.verify_credentials(
        data.email, data.password, ctx, settings_of(request).local_passwords
    )
    # A token is a long-lived credential: it takes the same second factor as a session.
    stage = await mfa_auth.stage_after_password(user)
    if stage == "enrol":
        return mfa_error(403, "mfa_enrolment_required", ENROL_FIRST, mfa_enrolment_required=True)
    box = mfa_auth.secret_box(request)
    if stage == "code" and (refused := await second_factor(user, data, ctx, box)) is not None:
        return refused
    token, raw = await auth.issue_token(user, name)
    return reply(build(schema.NewToken, {**token_view(token), "token": raw}), 201)


@api(schema.Tokens, "The caller's tokens")
@authenticated
async def list_tokens(request: Request, user: Professional) -> Response:
    tokens = await auth.tokens_of(user)
    return reply(build(schema.Tokens, {"tokens": [token_view(t) for t in tokens]}))


@api(None, "Revoke a token", status=204)
@authenticated
async def revoke_token(request: Request, user: Professional) -> Response:
    await auth.do_revoke_own_token(user, path_id(request, "token_id"))
    return Response(status_code=204)


routes = [
    Route("/api/v1/auth/login", login, methods=["POST"]),
    Route("/api/v1/auth/logout", logout, methods=["POST"]),
    Route("/api/v1/auth/logout-everywhere", logout_everywhere, methods=["POST"]),
    Route("/api/v1/auth/tokens", create_token, methods=["POST"]),
    Route("/api/v1/auth/tokens", list_tokens, methods=["GET"]),
    Route("/api/v1/auth/tokens/{token_id}", revoke_token, methods=["DELETE"]),
    Route("/api/v1/me", me, methods=["GET"]),
]
