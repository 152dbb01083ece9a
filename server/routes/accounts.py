"""Accounts: change your password (with the old one); administrators unlock accounts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.accounts import lockout
from feeds.models import Professional
from server import auth, mfa_auth
from server.endpoints import audit_context, authenticated, path_id
from server.schemas import accounts as schema
from server.schemas.codec import decode, reply
from server.schemas.operation import api


@api(
    schema.CredentialsEnded,
    "Change your password (with the old one); ends every other session and every token "
    "(a browser carries on in a fresh session)",
    body=schema.PasswordChange,
    errors={429},
    retry_after={429},
)
@authenticated
async def change_password(request: Request, user: Professional) -> Response:
    """Change the password, ending every other session and every token (a browser that
    made the change carries on in a fresh session). Throttled like a sign-in."""
    data = await decode(request, schema.PasswordChange)
    ctx = audit_context(request)
    await auth.check_throttle(user.email, ctx.ip)
    ended = await lockout.do_change_password(user, data.old_password, data.new_password, ctx)
    response = reply(schema.CredentialsEnded(ended.sessions, ended.tokens))
    await mfa_auth.renew_session(request, user, response)
    return response


@api(schema.Unlocked, "Administrators: unlock an account locked by failed logins", errors={403})
@authenticated
async def unlock(request: Request, user: Professional) -> Response:
    person = await lockout.do_unlock(
        user, path_id(request, "professional_id"), audit_context(request)
    )
    return reply(schema.Unlocked(person.id, False))


routes = [
    Route("/api/v1/auth/password", change_password, methods=["POST"]),
    Route("/api/v1/professionals/{professional_id}/unlock", unlock, methods=["POST"]),
]
