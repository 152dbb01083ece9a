"""What changed since I last looked (issue 15 items 10 and 12): "My children" with new
posts, the since-yesterday page, the last-visit marker, and team follows. Each handler
parses, then calls one feeds function (feeds/feed/visits.py, since.py, following.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.access import identity
from feeds.errors import Invalid
from feeds.feed import following, since, visits
from feeds.models import Professional
from feeds.serializers import iso, me_view, post_view
from server.endpoints import (
    MAX_ID,
    audit_context,
    authenticated,
    is_number,
    path_id,
    query_int,
    read_form,
)
from server.page_context import header_context
from server.routes.page_render import render
from server.routes.pages_live import post_views
from server.schemas import my_day as schema
from server.schemas.codec import build, decode, decode_query, is_json, reply
from server.schemas.operation import api


def my_child_view(child: visits.MyChild) -> dict[str, Any]:
    return {
        "child_id": child.child_id,
        "display_name": child.display_name,
        "reference": child.reference,
        "last_post_at": iso(child.last_post_at),
        "new_posts": child.new_posts,
        "last_visit_at": iso(child.last_visit_at),
        "flagged": child.flagged,
        "gone_quiet": child.gone_quiet,
        "following": child.following,
    }


@api(schema.MyChildren, "Children you lead, hold a personal grant on or follow, with new posts")
@authenticated
async def get_my_children(request: Request, user: Professional) -> Response:
    found = await visits.my_children(user)
    return reply(build(schema.MyChildren, {"children": [my_child_view(c) for c in found]}))


def _group_view(group: since.ChildPosts, redact: identity.Redactor) -> dict[str, Any]:
    return {
        "child_id": group.child.id,
        "display_name": group.child.display_name,
        "reference": group.child.reference,
        "last_seen_post_id": group.last_seen,
        "posts": [post_view(post, redact) for post in group.posts],
    }


@api(
    schema.SinceYesterday,
    "Posts on the children you or your teams follow since 00:00 UTC yesterday, by child (audited)",
    query=schema.SincePage,
)
@authenticated
async def get_since_yesterday(request: Request, user: Professional) -> Response:
    asked = decode_query(request, schema.SincePage)
    page = await since.read_since_yesterday(
        user, audit_context(request), before=asked.before, limit=asked.limit
    )
    view = {
        "since": iso(page.since),
        "groups": [_group_view(group, page.redact) for group in page.groups],
        "next_before": page.next_before,
        "count": page.count,
    }
    return reply(build(schema.SinceYesterday, view))


@api(
    schema.SeenUpTo,
    "Mark the child's posts seen up to one (default: the newest), e.g. live posts that "
    "arrived while its page was open (audited)",
    body=schema.Seen,
    body_required=False,
)
@authenticated
async def mark_seen(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    post_id = (await decode(request, schema.Seen)).post_id if is_json(request) else None
    upto = await visits.do_mark_seen(user, child_id, audit_context(request), post_id)
    return reply(schema.SeenUpTo(child_id, upto))


def team_follow_view(team: following.TeamFollow) -> dict[str, Any]:
    return {
        "team_id": team.team_id,
        "name": team.name,
        "following": team.following,
        "may_change": team.may_change,
    }


@api(schema.TeamFollows, "Which of your teams follow the child (audited)", errors={403})
@authenticated
async def get_team_follows(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    found = await following.read_team_follows(user, child_id, audit_context(request))
    teams = [team_follow_view(team) for team in found]
    return reply(build(schema.TeamFollows, {"child_id": child_id, "teams": teams}))


def with_new_markers(
    user: Professional, last_seen: int | None, views: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Posts (newest first) marked `new` since the reader's last visit, with a `divider`
    above the first new one ("new", carrying `new_count`) and above the first post seen
    before ("earlier")."""
    for view in views:
        view["new"], view["divider"] = _is_new(user, last_seen, view), None
    fresh = [view for view in views if view["new"]]
    if not fresh or last_seen is None:
        return views
    fresh[0]["divider"], fresh[0]["new_count"] = "new", len(fresh)
    earlier = next((view for view in views if view["id"] <= last_seen), None)
    if earlier is not None:
        earlier["divider"] = "earlier"
    return views


def _since_view(user: Professional, group: since.ChildPosts, views: list[dict[str, Any]]) -> Any:
    for view in views:
        view["new"] = _is_new(user, group.last_seen, view)
    return {"child": group.child, "posts": views, "new": sum(v["new"] for v in views)}


def _is_new(user: Professional, last_seen: int | None, view: dict[str, Any]) -> bool:
    mine = view["author"]["id"] == user.id
    return last_seen is not None and view["id"] > last_seen and not mine


@authenticated
async def since_yesterday_page(request: Request, user: Professional) -> Response:
    await header_context(request)
    before = query_int(request, "before", None)
    page = await since.read_since_yesterday(user, audit_context(request), before=before)
    groups = [_since_view(user, g, await post_views(user, g.posts)) for g in page.groups]
    return render(
        request,
        "since_yesterday.html",
        user=me_view(user),
        since=iso(page.since),
        groups=groups,
        count=page.count,
        next_before=page.next_before,
        older=before is not None,
    )


def _form_team(raw: str) -> int:
    if not is_number(raw) or int(raw) > MAX_ID:
        raise Invalid("Choose one of your teams.", field="team_id")
    return int(raw)


@authenticated
async def change_team_follow(request: Request, user: Professional) -> Response:
    """The child page's "Team follows" control: a manager makes a team follow, or stop."""
    child_id = path_id(request, "child_id")
    form = await read_form(request)
    team_id = _form_team(str(form.get("team_id") or ""))
    ctx = audit_context(request)
    if form.get("follow") == "0":
        await following.do_unfollow(user, child_id, ctx, team_id)
    else:
        await following.do_follow(user, child_id, ctx, team_id)
    return RedirectResponse(f"/children/{child_id}#follow", status_code=303)


routes = [
    Route("/api/v1/my-children", get_my_children, methods=["GET"]),
    Route("/api/v1/since-yesterday", get_since_yesterday, methods=["GET"]),
    Route("/api/v1/children/{child_id}/seen", mark_seen, methods=["POST"]),
    Route("/api/v1/children/{child_id}/team-follows", get_team_follows, methods=["GET"]),
    Route("/since-yesterday", since_yesterday_page, methods=["GET"]),
    Route("/children/{child_id}/team-follow", change_team_follow, methods=["POST"]),
]
