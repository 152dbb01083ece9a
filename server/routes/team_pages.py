"""The team around the child on its page: who has access, past access, removing access
(confirmed, never one's own, undoable) and picking people to grant by name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from feeds.access import grants
from feeds.access.ending import SOON
from feeds.clock import utcnow
from feeds.models import Grant, Professional
from feeds.serializers import grant_view, iso, me_view
from server.endpoints import audit_context, authenticated, path_id, query_int
from server.page_context import header_context
from server.routes.page_render import render


def _ends_in(expires_at: datetime | None, now: datetime) -> str:
    """Within SOON of the end: 'ends today', 'ends tomorrow', 'ends in 3 days'; else ''."""
    if expires_at is None or expires_at - now > SOON:
        return ""
    days = (expires_at.date() - now.date()).days
    return "ends today" if days <= 0 else "ends tomorrow" if days == 1 else f"ends in {days} days"


def member_view(grant: Grant, viewer: Professional, now: datetime) -> dict[str, Any]:
    return grant_view(grant) | {
        "mine": grant.professional_id == viewer.id,
        "ends_in": _ends_in(grant.expires_at, now),
    }


def past_view(grant: Grant) -> dict[str, Any]:
    how = "removed" if grant.revoked_at is not None else "expired"
    return grant_view(grant) | {"ended_at": iso(grants.ended_at(grant)), "ended_how": how}


async def team_context(
    request: Request, user: Professional, child_id: int, can_manage: bool
) -> dict[str, Any]:
    """What the child page shows of the team: members, past access, and the "Access
    removed — Undo" notice after a removal (?revoked=<grant id>)."""
    now = utcnow()
    team = await grants.team_around_child(user, child_id)
    past = await grants.past_access(user, child_id)
    undo = None
    revoked_id = query_int(request, "revoked", None) if can_manage else None
    if revoked_id is not None:
        gone = await Grant.get_or_none(id=revoked_id, child_id=child_id, revoked_at__isnull=False)
        if gone is not None:
            undo = grant_view(await grants.revocable(user, gone.id))
    return {
        "team": [member_view(g, user, now) for g in team],
        "past_access": [past_view(g) for g in past],
        "undo": undo,
    }


@authenticated
async def confirm_revoke(request: Request, user: Professional) -> Response:
    """Without JavaScript, Revoke leads here: "Remove X's access to this child?"."""
    await header_context(request)
    grant = await grants.do_read_revocable(
        user, path_id(request, "grant_id"), audit_context(request)
    )
    grants.check_not_own(grant, user)
    return render(request, "grant_revoke.html", user=me_view(user), grant=grant_view(grant))


@authenticated
async def revoke_grant(request: Request, user: Professional) -> Response:
    grant = await grants.do_revoke_grant(
        user, path_id(request, "grant_id"), audit_context(request), refuse_own=True
    )
    return RedirectResponse(f"/children/{grant.child_id}?revoked={grant.id}#team", status_code=303)


@authenticated
async def undo_revoke(request: Request, user: Professional) -> Response:
    grant = await grants.do_undo_revoke(user, path_id(request, "grant_id"), audit_context(request))
    return RedirectResponse(f"/children/{grant.child_id}#team", status_code=303)


@authenticated
async def suggest_people(request: Request, user: Professional) -> Response:
    """People to grant, by name prefix (?q=): JSON for the granting form's autocomplete."""
    prefix = request.query_params.get("q", "")
    child_id = path_id(request, "child_id")
    found = await grants.do_suggest_holders(user, child_id, prefix, audit_context(request))
    return JSONResponse(
        {
            "people": [
                {
                    "id": person.id,
                    "name": person.name,
                    "job_title": person.job_title,
                    "agency": person.agency.name,
                }
                for person in found
            ]
        }
    )


routes = [
    Route("/grants/{grant_id}/revoke", confirm_revoke, methods=["GET"]),
    Route("/grants/{grant_id}/revoke", revoke_grant, methods=["POST"]),
    Route("/grants/{grant_id}/undo", undo_revoke, methods=["POST"]),
    Route("/children/{child_id}/grants/suggest", suggest_people, methods=["GET"]),
]
