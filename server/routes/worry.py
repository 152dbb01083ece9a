""" "I share this worry" on a hunch or concern: the JSON API and the child page's form.

Each handler parses, calls feeds.network.worry.do_share_worry and answers; who shares a
worry is also part of every hunch and concern in a feed page (api_children.list_posts).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.models import Professional
from feeds.network import worry
from server.endpoints import audit_context, authenticated, path_id, read_form
from server.routes.page_render import safe_next
from server.schemas import posts as schema
from server.schemas.codec import build, decode, is_json, reply
from server.schemas.operation import api


@api(
    schema.PostWorryShares,
    "Share the worry of someone else's hunch or concern, once, with an optional note (audited)",
    status=201,
    body=schema.WorryShareCreate,
    body_required=False,
    errors={409},
)
@authenticated
async def api_share(request: Request, user: Professional) -> Response:
    # The note is optional, and so is the body.
    has_body = bool(await request.body()) or is_json(request)
    note = (await decode(request, schema.WorryShareCreate)).note if has_body else ""
    post_id = path_id(request, "post_id")
    done = await worry.do_share_worry(user, post_id, note, audit_context(request))
    return reply(build(schema.PostWorryShares, {"post_id": post_id, **done.shares}), 201)


@authenticated
async def form_share(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    post_id = path_id(request, "post_id")
    done = await worry.do_share_worry(user, post_id, form.get("note"), audit_context(request))
    target = safe_next(str(form.get("next") or ""), f"/children/{done.child_id}")
    return RedirectResponse(f"{target.split('#')[0]}#post-{post_id}", status_code=303)


routes = [
    Route("/api/v1/posts/{post_id}/worry-shares", api_share, methods=["POST"]),
    Route("/posts/{post_id}/worry-shares", form_share, methods=["POST"]),
]
