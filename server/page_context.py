"""What every page's header needs besides the page itself: the unread notifications count
and the last event id the page reflects (where the live script resumes from).

Pages call `header_context`; `HeaderCountsMiddleware` does the same for HTML pages
rendered elsewhere (search, board, error pages), so the badge shows on every page.
"""

from __future__ import annotations

import contextlib

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from feeds import events
from feeds.access import identity
from feeds.clock import utcnow
from feeds.feed.notifications import unread_count
from feeds.models import BreakGlass, Child, Professional
from server.endpoints import resolve_user

NOT_PAGES = ("/api/", "/static/", "/ws", "/healthz", "/sw.js", "/login", "/logout")


async def emergency_access(user: Professional) -> list[dict[str, str | int]]:
    """The caller's active break-glass accesses, shown loudly on every page."""
    uses = await BreakGlass.filter(professional_id=user.id, expires_at__gt=utcnow())
    children = await Child.filter(id__in=[u.child_id for u in uses])
    names = await identity.shown_names(user, children)  # a shielded child: its label
    return [
        {
            "child_id": u.child_id,
            "child_name": str(names.get(u.child_id, "")),
            "expires_at": u.expires_at.isoformat(),
        }
        for u in uses
    ]


async def header_context(conn: HTTPConnection) -> None:
    """Put `unread` and `last_event_id` on the request state (once) for base.html."""
    state = conn.scope.setdefault("state", {})
    if "unread" in state:
        return
    user = await resolve_user(conn)
    if user is None:
        return
    state["unread"] = await unread_count(user)
    state["emergency"] = await emergency_access(user)
    state["last_event_id"] = await events.latest_event_id()


class HeaderCountsMiddleware:
    """Fill the header context for GET requests that render HTML pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope["path"].startswith(NOT_PAGES)
        ):
            # A missing badge is better than a failed page; the page itself reports
            # a database outage through the usual error handlers.
            with contextlib.suppress(Exception):
                await header_context(HTTPConnection(scope))
        await self.app(scope, receive, send)
