"""JSON API for following, the home stream, acknowledgements and the notifications inbox."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds import events
from feeds.feed import acknowledging, following, notifications
from feeds.models import Professional
from feeds.serializers import post_views_for
from server.endpoints import audit_context, authenticated, path_id
from server.schemas import posts as schema
from server.schemas.codec import build, decode, decode_query, is_json, reply
from server.schemas.common import Page
from server.schemas.operation import api

FOLLOW: dict[str, Any] = {"body": schema.Follow, "body_required": False, "errors": {403}}


async def _team_id(request: Request) -> int | None:
    """The optional body: {"team_id": n} follows for one of the caller's teams."""
    return (await decode(request, schema.Follow)).team_id if is_json(request) else None


@api(schema.Following, "Follow the child (optionally for a team you belong to)", **FOLLOW)
@authenticated
async def follow(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    await following.do_follow(user, child_id, audit_context(request), await _team_id(request))
    return reply(schema.Following(child_id, True))


@api(schema.Following, "Stop following the child (or stop a team following it)", **FOLLOW)
@authenticated
async def unfollow(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    await following.do_unfollow(user, child_id, audit_context(request), await _team_id(request))
    return reply(schema.Following(child_id, False))


@api(schema.Home, "Merged newest-first stream of the followed children", query=Page)
@authenticated
async def home_stream(request: Request, user: Professional) -> Response:
    page = decode_query(request, Page)
    posts = await following.home_stream(
        user, audit_context(request), before=page.before, limit=page.limit
    )
    home = {
        "posts": await post_views_for(user, posts),
        "next_before": posts[-1].id if posts else None,
        "following": sorted(await following.followed_child_ids(user)),
        "last_event_id": await events.latest_event_id(),
    }
    return reply(build(schema.Home, home))


@api(schema.Acknowledged, "Mark a post seen; how many have seen it", errors={403})
@authenticated
async def acknowledge(request: Request, user: Professional) -> Response:
    post_id = path_id(request, "post_id")
    count = await acknowledging.do_acknowledge(user, post_id, audit_context(request))
    return reply(schema.Acknowledged(post_id, count))


@api(schema.Inbox, "The notifications inbox and the unread count")
@authenticated
async def inbox(request: Request, user: Professional) -> Response:
    box = await notifications.inbox(user)
    return reply(build(schema.Inbox, {"notifications": box.items, "unread": box.unread}))


@api(schema.Unread, "Mark one notification read; the unread count left")
@authenticated
async def mark_read(request: Request, user: Professional) -> Response:
    unread = await notifications.mark_read(user, path_id(request, "notification_id"))
    return reply(schema.Unread(unread))


@api(schema.Unread, "Mark every notification read")
@authenticated
async def mark_all_read(request: Request, user: Professional) -> Response:
    return reply(schema.Unread(await notifications.mark_all_read(user)))


routes = [
    Route("/api/v1/children/{child_id}/follow", follow, methods=["POST"]),
    Route("/api/v1/children/{child_id}/follow", unfollow, methods=["DELETE"]),
    Route("/api/v1/home", home_stream, methods=["GET"]),
    Route("/api/v1/posts/{post_id}/acknowledge", acknowledge, methods=["POST"]),
    Route("/api/v1/notifications", inbox, methods=["GET"]),
    Route("/api/v1/notifications/read-all", mark_all_read, methods=["POST"]),
    Route("/api/v1/notifications/{notification_id}/read", mark_read, methods=["POST"]),
]
