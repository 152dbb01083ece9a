"""Accounts: change your password (with the old one); administrators unlock accounts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds.accounts import lockout
from feeds.models import Professional
from server import auth, cookies
from server.endpoints import audit_context, authenticated, path_id, read_json, settings_of


@authenticated
async def change_password(request: Request, user: Professional) -> Response:
    """Change the password, then end every session (sign in again everywhere)."""
    data = await read_json(request)
    await lockout.do_change_password(
        user, data.get("old_password"), data.get("new_password"), audit_context(request)
    )
    ended = await auth.end_all_sessions(user)
    response = JSONResponse({"sessions_ended": ended})
    cookies.clear_session_cookie(response, settings_of(request))
    return response


@authenticated
async def unlock(request: Request, user: Professional) -> Response:
    person = await lockout.do_unlock(
        user, path_id(request, "professional_id"), audit_context(request)
    )
    return JSONResponse({"id": person.id, "locked": False})


routes = [
    Route("/api/v1/auth/password", change_password, methods=["POST"]),
    Route("/api/v1/professionals/{professional_id}/unlock", unlock, methods=["POST"]),
]
