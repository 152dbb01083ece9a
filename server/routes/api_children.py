"""JSON API: children, their feeds, posts and grants. Each handler decodes its typed
input (server/schemas), calls feeds/, and answers with its response type."""

from __future__ import annotations

from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.access import grants
from feeds.errors import NotFound
from feeds.feed import posting, reading
from feeds.feed.posting import MAX_IDEMPOTENCY_KEY
from feeds.models import Professional
from feeds.network import worry
from feeds.serializers import child_view, grant_view
from server.dates import check_moment
from server.endpoints import audit_context, authenticated, on_one_connection, path_id
from server.routes.merges import survivor_redirect
from server.routes.post_edits import written
from server.schemas import post_changes
from server.schemas import posts as schema
from server.schemas.codec import build, decode, decode_query, reply
from server.schemas.common import Page
from server.schemas.operation import Header, api

IDEMPOTENCY_KEY = Header(
    "Idempotency-Key",
    "Retrying with the same key returns the first answer (Idempotent-Replayed: true); "
    "the same key with a different post is refused (422); while the first is in flight, 409",
    MAX_IDEMPOTENCY_KEY,
)
EXPIRY = "expires_at must be an ISO 8601 date-time."
# Who may see or change a child is decided per child: visible but not allowed is 403.
CHILD_ERRORS = {403}


@api(schema.Children, "The children the caller may see")
@on_one_connection
@authenticated
async def list_children(request: Request, user: Professional) -> Response:
    children = await reading.caseload(user)
    return reply(build(schema.Children, {"children": [child_view(c) for c in children]}))


@api(
    schema.Child,
    "One child (audited); a merged record: 303 to the record it was merged into",
    errors=CHILD_ERRORS,
)
@authenticated
async def get_child(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    try:
        child = await reading.read_child(user, child_id, audit_context(request))
    except NotFound:
        if moved := await survivor_redirect(user, child_id, "/api/v1/children/{id}"):
            return moved
        raise
    return reply(build(schema.Child, child_view(child)))


@api(schema.FeedPage, "The child's feed, newest first (audited)", query=Page, errors=CHILD_ERRORS)
@on_one_connection
@authenticated
async def list_posts(request: Request, user: Professional) -> Response:
    page = decode_query(request, Page)
    found = await reading.read_feed_views(
        user,
        path_id(request, "child_id"),
        audit_context(request),
        before=page.before,
        limit=page.limit,
    )
    posts = await worry.with_shares(found.posts)  # who shares each hunch and concern
    return reply(build(schema.FeedPage, {"posts": posts, "next_before": found.next_before}))


@api(
    post_changes.PostWritten,
    "Post to the child's feed",
    status=201,
    body=schema.PostCreate,
    headers=(IDEMPOTENCY_KEY,),
    errors={409, *CHILD_ERRORS},
)
@on_one_connection
@authenticated
async def create_post(request: Request, user: Professional) -> Response:
    new = await decode(request, schema.PostCreate)
    result = await posting.do_create_post(
        user,
        path_id(request, "child_id"),
        new.kind,
        new.body,
        audit_context(request),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    headers = {} if result.created else {"idempotent-replayed": "true"}
    return reply(await written(user, result), 201, headers)


@api(
    post_changes.PostWritten,
    "Edit one's own post: its kind, its text or both (the old version is kept)",
    body=post_changes.PostChanges,
    errors={403, 409},
)
@authenticated
async def edit_post(request: Request, user: Professional) -> Response:
    edit = await decode(request, post_changes.PostChanges)
    result = await posting.do_edit_post(
        user,
        path_id(request, "post_id"),
        None if edit.kind is UNSET else edit.kind,
        None if edit.body is UNSET else edit.body,
        audit_context(request),
    )
    return reply(await written(user, result))


@api(None, "Remove a post (soft, audited)", status=204, errors={403})
@authenticated
async def remove_post(request: Request, user: Professional) -> Response:
    await posting.do_remove_post(user, path_id(request, "post_id"), audit_context(request))
    return Response(status_code=204)


@api(schema.Grants, "The team around the child: active grants (audited)", errors=CHILD_ERRORS)
@authenticated
async def list_grants(request: Request, user: Professional) -> Response:
    active = await grants.do_read_grants(user, path_id(request, "child_id"), audit_context(request))
    return reply(build(schema.Grants, {"grants": [grant_view(g) for g in active]}))


@api(
    schema.Grant,
    "Grant access to a professional or a team",
    status=201,
    body=schema.GrantCreate,
    errors=CHILD_ERRORS,
)
@authenticated
async def create_grant(request: Request, user: Professional) -> Response:
    new = await decode(request, schema.GrantCreate)
    expires_at = new.expires_at and check_moment(new.expires_at, EXPIRY, "expires_at")
    grant = await grants.do_grant(
        user,
        path_id(request, "child_id"),
        audit_context(request),
        professional_id=new.professional_id,
        team_id=new.team_id,
        expires_at=expires_at,
    )
    return reply(build(schema.Grant, grant_view(grant)), 201)


@api(schema.Grant, "Revoke a grant", errors={403})
@authenticated
async def revoke_grant(request: Request, user: Professional) -> Response:
    grant = await grants.do_revoke_grant(user, path_id(request, "grant_id"), audit_context(request))
    return reply(build(schema.Grant, grant_view(grant)))


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
