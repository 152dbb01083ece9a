"""Pages for following, acknowledging ("seen") and the notifications inbox: plain HTML
forms that work without JavaScript, plus the service worker served from the site root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from feeds.access import identity
from feeds.feed import acknowledging, following, notifications, reading
from feeds.kinds import WORRY_KINDS
from feeds.models import Acknowledgement, Post, Professional
from feeds.network import worry
from feeds.serializers import me_view, post_view
from server.endpoints import audit_context, authenticated, path_id, public, read_form
from server.page_context import header_context
from server.routes.page_render import render, safe_next

SERVICE_WORKER = Path(__file__).resolve().parents[2] / "frontend" / "static" / "js" / "sw.js"
ACKNOWLEDGEABLE = {kind.value for kind in WORRY_KINDS}  # worries ask to be acknowledged


async def post_views(
    user: Professional, posts: list[Post], child_names: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """Posts as templates show them: with who has seen them and, on mixed streams, the child."""
    rows = await Acknowledgement.filter(post_id__in=[p.id for p in posts]).values(
        "post_id", "professional_id"
    )
    seen: dict[int, set[int]] = {}
    for row in rows:
        seen.setdefault(int(row["post_id"]), set()).add(int(row["professional_id"]))
    views = []
    redact = await identity.redactor(user, {post.child_id for post in posts})
    for post in posts:
        view: dict[str, Any] = dict(post_view(post, redact))
        by = seen.get(post.id, set())
        view["seen_by"] = len(by)
        view["seen_by_me"] = user.id in by
        view["can_ack"] = view["kind"] in ACKNOWLEDGEABLE and post.author_id != user.id
        view["child_name"] = (child_names or {}).get(post.child_id)
        views.append(view)
    return [worry.page_view(view, user.id) for view in await worry.with_shares(views)]


async def _form_next(request: Request, default: str) -> str:
    form = await read_form(request)
    return safe_next(str(form.get("next") or ""), default)


@authenticated
async def follow(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    await following.do_follow(user, child_id, audit_context(request))
    return RedirectResponse(f"/children/{child_id}", status_code=303)


@authenticated
async def unfollow(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    await following.do_unfollow(user, child_id, audit_context(request))
    return RedirectResponse(f"/children/{child_id}", status_code=303)


@authenticated
async def acknowledge(request: Request, user: Professional) -> Response:
    post_id = path_id(request, "post_id")
    await acknowledging.do_acknowledge(user, post_id, audit_context(request))
    post = await Post.get(id=post_id)
    target = await _form_next(request, f"/children/{post.child_id}")
    return RedirectResponse(f"{target.split('#')[0]}#post-{post_id}", status_code=303)


@authenticated
async def inbox(request: Request, user: Professional) -> Response:
    await header_context(request)
    box = await notifications.inbox(user)
    names = {child.id: child.display_name for child in await reading.caseload(user)}  # as seen
    items = [{**item, "child_name": names.get(item["child_id"], "")} for item in box.items]
    return render(request, "notifications.html", user=me_view(user), items=items, unread=box.unread)


@authenticated
async def mark_read(request: Request, user: Professional) -> Response:
    await notifications.mark_read(user, path_id(request, "notification_id"))
    return RedirectResponse(await _form_next(request, "/notifications"), status_code=303)


@authenticated
async def mark_all_read(request: Request, user: Professional) -> Response:
    await notifications.mark_all_read(user)
    return RedirectResponse("/notifications", status_code=303)


@public
async def service_worker(request: Request) -> Response:
    """Served from the root so its scope covers the whole site."""
    return FileResponse(
        SERVICE_WORKER,
        media_type="text/javascript",
        headers={"service-worker-allowed": "/", "cache-control": "no-cache"},
    )


routes = [
    Route("/children/{child_id}/follow", follow, methods=["POST"]),
    Route("/children/{child_id}/unfollow", unfollow, methods=["POST"]),
    Route("/posts/{post_id}/acknowledge", acknowledge, methods=["POST"]),
    Route("/notifications", inbox, methods=["GET"]),
    Route("/notifications/read-all", mark_all_read, methods=["POST"]),
    Route("/notifications/{notification_id}/read", mark_read, methods=["POST"]),
    Route("/sw.js", service_worker, methods=["GET"]),
]
