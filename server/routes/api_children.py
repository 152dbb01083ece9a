"""JSON API: children, their feeds, posts and grants. Each handler parses, then calls feeds/."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds.access import grants
from feeds.errors import Invalid
from feeds.feed import posting, reading
from feeds.models import Professional
from feeds.serializers import child_view, grant_view, post_view
from server.dates import parse_moment
from server.endpoints import (
    MAX_ID,
    audit_context,
    authenticated,
    path_id,
    query_int,
    read_json,
)


@authenticated
async def list_children(request: Request, user: Professional) -> Response:
    children = await reading.caseload(user)
    return JSONResponse({"children": [child_view(c) for c in children]})


@authenticated
async def get_child(request: Request, user: Professional) -> Response:
    child = await reading.read_child(user, path_id(request, "child_id"), audit_context(request))
    return JSONResponse(child_view(child))


@authenticated
async def list_posts(request: Request, user: Professional) -> Response:
    page = await reading.read_feed_views(
        user,
        path_id(request, "child_id"),
        audit_context(request),
        before=query_int(request, "before", None),
        limit=query_int(request, "limit", 20) or 0,
    )
    return JSONResponse({"posts": page.posts, "next_before": page.next_before})


@authenticated
async def create_post(request: Request, user: Professional) -> Response:
    data = await read_json(request)
    result = await posting.do_create_post(
        user,
        path_id(request, "child_id"),
        data.get("kind"),
        data.get("body"),
        audit_context(request),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    headers = {} if result.created else {"idempotent-replayed": "true"}
    return JSONResponse(post_view(result.post), status_code=201, headers=headers)


@authenticated
async def edit_post(request: Request, user: Professional) -> Response:
    data = await read_json(request)
    post = await posting.do_edit_post(
        user,
        path_id(request, "post_id"),
        data.get("kind"),
        data.get("body"),
        audit_context(request),
    )
    return JSONResponse(post_view(post))


@authenticated
async def remove_post(request: Request, user: Professional) -> Response:
    await posting.do_remove_post(user, path_id(request, "post_id"), audit_context(request))
    return Response(status_code=204)


@authenticated
async def list_grants(request: Request, user: Professional) -> Response:
    active = await grants.do_read_grants(user, path_id(request, "child_id"), audit_context(request))
    return JSONResponse({"grants": [grant_view(g) for g in active]})


def parse_expiry(raw: object) -> datetime | None:
    if raw is None or raw == "":
        return None
    return parse_moment(str(raw), "expires_at must be an ISO 8601 date-time.", "expires_at")


def optional_id(data: dict[str, object], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Invalid(f"{name} must be a positive whole number.", field=name)
    return value


@authenticated
async def create_grant(request: Request, user: Professional) -> Response:
    data = await read_json(request)
    grant = await grants.do_grant(
        user,
        path_id(request, "child_id"),
        audit_context(request),
        professional_id=optional_id(data, "professional_id"),
        team_id=optional_id(data, "team_id"),
        expires_at=parse_expiry(data.get("expires_at")),
    )
    return JSONResponse(grant_view(grant), status_code=201)


@authenticated
async def revoke_grant(request: Request, user: Professional) -> Response:
    grant = await grants.do_revoke_grant(user, path_id(request, "grant_id"), audit_context(request))
    return JSONResponse(grant_view(grant))


routes = [
    Route("/api/v1/children", list_children, methods=["GET"]),
    Route("/api/v1/children/{child_id}", get_child, methods=["GET"]),
    Route("/api/v1/children/{child_id}/posts", list_posts, methods=["GET"]),
    Route("/api/v1/children/{child_id}/posts", create_post, methods=["POST"]),
    Route("/api/v1/children/{child_id}/grants", list_grants, methods=["GET"]),
    Route("/api/v1/children/{child_id}/grants", create_grant, methods=["POST"]),
    Route("/api/v1/grants/{grant_id}", revoke_grant, methods=["DELETE"]),
    Route("/api/v1/posts/{post_id}", edit_post, methods=["PATCH"]),
    Route("/api/v1/posts/{post_id}", remove_post, methods=["DELETE"]),
]
