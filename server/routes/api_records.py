"""JSON API: create a child's record, edit it (with history), close and reopen the case.
Each handler parses, then calls one feeds/records action."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds.models import Child, Professional
from feeds.records import children
from feeds.records.views import history_view, identified, record_view
from server.endpoints import audit_context, authenticated, path_id, read_json


async def _shown(user: Professional, child: Child, status: int = 200) -> Response:
    """The record as this caller may see it (no name without access to the feed)."""
    return JSONResponse(record_view(child, await identified(user, child)), status_code=status)


@authenticated
async def create_child(request: Request, user: Professional) -> Response:
    data = await read_json(request)
    child = await children.do_create_child(user, data, audit_context(request))
    return await _shown(user, child, 201)


@authenticated
async def edit_child(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    data = await read_json(request)
    child = await children.do_edit_child(user, child_id, data, audit_context(request))
    return await _shown(user, child)


@authenticated
async def close_child(request: Request, user: Professional) -> Response:
    child = await children.do_close_child(
        user, path_id(request, "child_id"), audit_context(request)
    )
    return await _shown(user, child)


@authenticated
async def reopen_child(request: Request, user: Professional) -> Response:
    child = await children.do_reopen_child(
        user, path_id(request, "child_id"), audit_context(request)
    )
    return await _shown(user, child)


@authenticated
async def child_history(request: Request, user: Professional) -> Response:
    child, revisions = await children.do_read_history(
        user, path_id(request, "child_id"), audit_context(request)
    )
    return JSONResponse(await history_view(user, child, revisions))


routes = [
    Route("/api/v1/children", create_child, methods=["POST"]),
    Route("/api/v1/children/{child_id}", edit_child, methods=["PATCH"]),
    Route("/api/v1/children/{child_id}/close", close_child, methods=["POST"]),
    Route("/api/v1/children/{child_id}/reopen", reopen_child, methods=["POST"]),
    Route("/api/v1/children/{child_id}/history", child_history, methods=["GET"]),
]
