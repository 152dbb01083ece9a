"""JSON API: login, logout, the caller, personal access tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds.errors import NotFound
from feeds.models import ApiToken, Professional
from feeds.serializers import me_view, token_view
from server import auth, cookies, mfa_auth
from server.endpoints import (
    audit_context,
    authenticated,
    path_id,
    public,
    read_json,
    settings_of,
)
from server.routes.api_mfa import ENROL_FIRST, mfa_error, second_factor


@public
async def login(request: Request) -> Response:
    """Email and password, plus `code` or `recovery_code` when the account has MFA."""
    data = await read_json(request)
    ctx = audit_context(request)
    user = await auth.verify_credentials(data.get("email"), data.get("password"), ctx)
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
        response = JSONResponse({"me": me_view(user), "csrf_token": csrf_token})
    cookies.set_session_cookie(response, new.raw_id, settings_of(request))
    return response


@public
async def logout(request: Request) -> Response:
    raw = request.cookies.get(settings_of(request).session_cookie)
    if raw:
        await auth.end_session(raw)
    response = Response(status_code=204)
    cookies.clear_session_cookie(response, settings_of(request))
    return response


@authenticated
async def logout_everywhere(request: Request, user: Professional) -> Response:
    ended = await auth.end_all_sessions(user)
    response = JSONResponse({"sessions_ended": ended})
    cookies.clear_session_cookie(response, settings_of(request))
    return response


@authenticated
async def me(request: Request, user: Professional) -> Response:
    return JSONResponse(me_view(user))


@public
async def create_token(request: Request) -> Response:
    """Exchange email + password for a personal access token (shown once)."""
    data = await read_json(request)
    name = auth.check_token_name(data.get("name"))
    ctx = audit_context(request)
    user = await auth.verify_credentials(data.get("email"), data.get("password"), ctx)
    # A token is a long-lived credential: it takes the same second factor as a session.
    stage = await mfa_auth.stage_after_password(user)
    if stage == "enrol":
        return mfa_error(403, "mfa_enrolment_required", ENROL_FIRST, mfa_enrolment_required=True)
    box = mfa_auth.secret_box(request)
    if stage == "code" and (refused := await second_factor(user, data, ctx, box)) is not None:
        return refused
    token, raw = await auth.issue_token(user, name)
    return JSONResponse({**token_view(token), "token": raw}, status_code=201)


@authenticated
async def list_tokens(request: Request, user: Professional) -> Response:
    tokens = await ApiToken.filter(professional_id=user.id).order_by("-id")
    return JSONResponse({"tokens": [token_view(t) for t in tokens]})


@authenticated
async def revoke_token(request: Request, user: Professional) -> Response:
    token = await ApiToken.get_or_none(id=path_id(request, "token_id"), professional_id=user.id)
    if token is None:
        raise NotFound("No such token.")
    await auth.revoke_token(token)
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
