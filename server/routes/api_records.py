"""JSON API: create a child's record, edit it (with history), close and reopen the case.
Each handler decodes its typed input (server/schemas), then calls one feeds/records action."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.models import Child as ChildRecord
from feeds.models import Professional
from feeds.records import children
from feeds.records.views import history_view, identified, record_view
from server.endpoints import audit_context, authenticated, path_id
from server.schemas import records as schema
from server.schemas.codec import build, decode, reply
from server.schemas.operation import api
from server.schemas.posts import Child

# Managers and administrators change records; a closed case refuses edits (409).
RECORD_ERRORS = {403, 409}


async def _shown(user: Professional, child: ChildRecord, status: int = 200) -> Response:
    """The record as this caller may see it (no name without access to the feed)."""
    return reply(build(Child, record_view(child, await identified(user, child))), status)


@api(
    Child,
    "Managers and administrators: add a child; the lead gets a grant",
    status=201,
    body=schema.ChildCreate,
    errors=RECORD_ERRORS,
)
@authenticated
async def create_child(request: Request, user: Professional) -> Response:
    data = await decode(request, schema.ChildCreate)
    child = await children.do_create_child(user, schema.given(data), audit_context(request))
    return await _shown(user, child, 201)


@api(
    Child,
    "Managers and administrators: change the record (history kept); the lead "
    "professional may change `school` and `area` alone",
    body=schema.ChildChanges,
    errors=RECORD_ERRORS,
)
@authenticated
async def edit_child(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    data = await decode(request, schema.ChildChanges)
    child = await children.do_edit_child(user, child_id, schema.given(data), audit_context(request))
    return await _shown(user, child)


@api(Child, "Close the case: read-only, every grant ends (audited)", errors=RECORD_ERRORS)
@authenticated
async def close_child(request: Request, user: Professional) -> Response:
    child = await children.do_close_child(
        user, path_id(request, "child_id"), audit_context(request)
    )
    return await _shown(user, child)


@api(
    Child,
    "Reopen a closed case: the grants its closure ended come back",
    errors=RECORD_ERRORS,
)
@authenticated
async def reopen_child(request: Request, user: Professional) -> Response:
    child = await children.do_reopen_child(
        user, path_id(request, "child_id"), audit_context(request)
    )
    return await _shown(user, child)


@api(schema.History, "The record's earlier versions, newest first", errors={403})
@authenticated
async def child_history(request: Request, user: Professional) -> Response:
    child, revisions = await children.do_read_history(
        user, path_id(request, "child_id"), audit_context(request)
    )
    return reply(build(schema.History, await history_view(user, child, revisions)))


routes = [
    Route("/api/v1/children", create_child, methods=["POST"]),
    Route("/api/v1/children/{child_id}", edit_child, methods=["PATCH"]),
    Route("/api/v1/children/{child_id}/close", close_child, methods=["POST"]),
    Route("/api/v1/children/{child_id}/reopen", reopen_child, methods=["POST"]),
    Route("/api/v1/children/{child_id}/history", child_history, methods=["GET"]),
]
