"""JSON API for following, the home stream, acknowledgements and the notifications inbox."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds import events
from feeds.errors import Invalid
from feeds.feed import acknowledging, following, notifications
from feeds.models import Professional
from feeds.serializers import post_view
from server.endpoints import (
    MAX_ID,
    audit_context,
    authenticated,
    path_id,
    query_int,
    read_json,
)


async def _team_id(request: Request) -> int | None:
    if request.headers.get("content-type", "").startswith("application/json"):
        value = (await read_json(request)).get("team_id")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID
        ):
            raise Invalid("team_id must be a whole number.", field="team_id")
        return value
    return None


@authenticated
async def follow(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    await following.do_follow(user, child_id, audit_context(request), await _team_id(request))
    return JSONResponse({"child_id": child_id, "following": True})


@authenticated
async def unfollow(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    await following.do_unfollow(user, child_id, audit_context(request), await _team_id(request))
    return JSONResponse({"child_id": child_id, "following": False})


@authenticated
async def home_stream(request: Request, user: Professional) -> Response:
    posts = await following.home_stream(
        user, before=query_int(request, "before", None), limit=query_int(request, "limit", 20) or 0
    )
    return JSONResponse(
        {
            "posts": [post_view(p) for p in posts],
            "next_before": posts[-1].id if posts else None,
            "following": sorted(await following.followed_child_ids(user)),
            "last_event_id": await events.latest_event_id(),
        }
    )


@authenticated
async def acknowledge(request: Request, user: Professional) -> Response:
    count = await acknowledging.do_acknowledge(
        user, path_id(request, "post_id"), audit_context(request)
    )
    return JSONResponse({"post_id": path_id(request, "post_id"), "seen_by": count})


@authenticated
async def inbox(request: Request, user: Professional) -> Response:
    box = await notifications.inbox(user)
    return JSONResponse({"notifications": box.items, "unread": box.unread})


@authenticated
async def mark_read(request: Request, user: Professional) -> Response:
    unread = await notifications.mark_read(user, path_id(request, "notification_id"))
    return JSONResponse({"unread": unread})


@authenticated
async def mark_all_read(request: Request, user: Professional) -> Response:
    return JSONResponse({"unread": await notifications.mark_all_read(user)})


routes = [
    Route("/api/v1/children/{child_id}/follow", follow, methods=["POST"]),
    Route("/api/v1/children/{child_id}/follow", unfollow, methods=["DELETE"]),
    Route("/api/v1/home", home_stream, methods=["GET"]),
    Route("/api/v1/posts/{post_id}/acknowledge", acknowledge, methods=["POST"]),
    Route("/api/v1/notifications", inbox, methods=["GET"]),
    Route("/api/v1/notifications/read-all", mark_all_read, methods=["POST"]),
    Route("/api/v1/notifications/{notification_id}/read", mark_read, methods=["POST"]),
]
