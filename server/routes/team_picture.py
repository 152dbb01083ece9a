"""The team around the child, as a picture: a page linked from the child page, and the
same as JSON. Each calls feeds.network.team.do_read_team (audited as a read of the child)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.models import Professional
from feeds.network import team
from feeds.organisation.contact import mailto_uri, tel_uri
from feeds.serializers import child_view, iso, me_view
from server.endpoints import audit_context, authenticated, path_id
from server.page_context import header_context
from server.routes.page_render import render
from server.routes.team_pages import _ends_in as ends_in
from server.schemas import team as schema
from server.schemas.codec import build, reply
from server.schemas.operation import api


def person_view(person: team.Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "job_title": person.job_title,
        "work_phone": person.work_phone,
        "work_email": person.work_email,
        "tel": tel_uri(person.work_phone),
        "mailto": mailto_uri(person.work_email),
        "last_post_at": iso(person.last_post_at),
    }


def holder_view(holder: team.Holder) -> dict[str, Any]:
    return {
        "grant_id": holder.grant_id,
        "type": holder.type,
        "id": holder.id,
        "name": holder.name,
        "job_title": holder.job_title,
        "since": iso(holder.since),
        "expires_at": iso(holder.expires_at),
        "access": holder.access,
        "last_post_at": iso(holder.last_post_at),
        "people": [person_view(p) for p in holder.people],
    }


def picture_view(picture: team.TeamPicture) -> dict[str, Any]:
    return {
        "child_id": picture.child.id,
        "at": iso(picture.at),
        "agencies": [
            {
                "name": group.name,
                "sector": group.sector,
                "gone_quiet": group.gone_quiet,
                "quiet_reason": group.quiet_reason,
                "last_post_at": iso(group.last_post_at),
                "holders": [holder_view(h) for h in group.holders],
            }
            for group in picture.agencies
        ],
    }


def _page_view(picture: team.TeamPicture) -> dict[str, Any]:
    """The JSON view, plus the words the page shows for access ending ("ends in 3 days")."""
    view = picture_view(picture)
    for group, shown in zip(picture.agencies, view["agencies"], strict=True):
        for holder, row in zip(group.holders, shown["holders"], strict=True):
            row["ends_in"] = ends_in(holder.expires_at, picture.at)
    return view


@api(
    schema.TeamPicture,
    "The team around the child by agency: roles, since when, last posts, access ending "
    "or expired, work contacts, agencies gone quiet (audited)",
    errors={403},
)
@authenticated
async def get_team(request: Request, user: Professional) -> Response:
    picture = await team.do_read_team(user, path_id(request, "child_id"), audit_context(request))
    return reply(build(schema.TeamPicture, picture_view(picture)))


@authenticated
async def show_team(request: Request, user: Professional) -> Response:
    """The page: stacked cards per agency, readable on a phone."""
    await header_context(request)
    picture = await team.do_read_team(user, path_id(request, "child_id"), audit_context(request))
    return render(
        request,
        "child_team.html",
        user=me_view(user),
        child=child_view(picture.child),
        picture=_page_view(picture),
    )


routes = [
    Route("/api/v1/children/{child_id}/team", get_team, methods=["GET"]),
    Route("/children/{child_id}/team", show_team, methods=["GET"]),
]
