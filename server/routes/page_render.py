"""Rendering a page: the template, its CSRF token and the header's counts."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """Render `name`; call `page_context.header_context` first to show the unread badge."""
    templates: Jinja2Templates = request.app.state.templates
    state = request.scope.get("state", {})
    context.setdefault("user", None)
    context.setdefault("unread", state.get("unread"))
    context.setdefault("last_event_id", state.get("last_event_id", 0))
    context["csrf_token"] = request.scope["csrftoken"]()
    return templates.TemplateResponse(request, name, context, status_code=status)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths, so a form cannot redirect to another site.

    Browsers treat a backslash as a slash and drop tabs and newlines, so "/\\evil" and
    "/<TAB>/evil" would become "//evil": refuse those characters outright.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ch.isspace() or not ch.isprintable() for ch in target):
        return default
    return target
