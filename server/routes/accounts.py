"""Accounts: change your password (with the old one); administrators unlock accounts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds.accounts import lockout
from feeds.models import Professional
from server import auth, mfa_auth
from server.endpoints import audit_context, authenticated, path_id, read_json


@authenticated
async def change_password(request: Request, user: Professional) -> Response:
    """Change the password, ending every other session and every token (a browser that
    made the change carries on in a fresh session). Throttled like a sign-in."""
    data = await read_json(request)
    ctx = audit_context(request)
    await auth.check_throttle(user.email, ctx.ip)
    ended = await lockout.do_change_password(
        user, data.get("old_password"), data.get("new_password"), ctx
    )
    response = JSONResponse({"sessions_ended": ended.sessions, "tokens_revoked": ended.tokens})
    await mfa_auth.renew_session(request, user, response)
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
