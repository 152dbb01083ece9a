"""The session cookie: HttpOnly, SameSite=Lax, Secure and __Host- prefixed over https."""

from __future__ import annotations

from starlette.responses import Response

from server.settings import Settings


def set_session_cookie(response: Response, raw_id: str, settings: Settings) -> None:
    response.set_cookie(
        settings.session_cookie,
        raw_id,
        max_age=int(settings.session_absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.https,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        settings.session_cookie, path="/", httponly=True, samesite="lax", secure=settings.https
    )
