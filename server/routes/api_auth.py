"""JSON API: login, logout, the caller, personal access tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds.errors import NotFound
from feeds.models import ApiToken, Professional
from feeds.views import me_view, token_view
from server import auth, cookies
from server.endpoints import (
    audit_context,
    authenticated,
    path_id,
    public,
    read_json,
    settings_of,
)


@public
async def login(request: Request) -> Response:
    data = await read_json(request)
    user = await auth.verify_credentials(
        data.get("email"), data.get("password"), audit_context(request)
    )
    new = await auth.start_session(
        user, settings_of(request), audit_context(request), request.headers.get("user-agent", "")
    )
    await user.fetch_related("agency")
    csrf_token = request.scope["csrftoken"]()
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
    user = await auth.verify_credentials(
        data.get("email"), data.get("password"), audit_context(request)
    )
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
