"""Asking to join a child's network, and deciding such requests: JSON API and pages.

Each handler parses, calls one feeds.network.requests function and renders; the answer to
a request to join is the same whatever the reference names.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.access import identity
from feeds.errors import Invalid, Throttled
from feeds.models import Professional
from feeds.network import requests
from feeds.network.models import AccessRequest, RequestStatus
from feeds.serializers import iso, me_view
from server.endpoints import audit_context, authenticated, path_id, read_form
from server.page_context import header_context
from server.routes.page_render import render, safe_next
from server.schemas import network as schema
from server.schemas.codec import build, decode, is_json, reply
from server.schemas.operation import api


def _common(request: AccessRequest, redact: identity.Redactor) -> dict[str, Any]:
    return {
        "id": request.id,
        "role": request.role,
        "reason": redact(request.reason),
        "created_at": iso(request.created_at),
        "lapses_at": iso(requests.lapses_at(request)),
        "status": requests.status_of(request),
    }


def decider_view(
    request: AccessRequest,
    named: AbstractSet[int] = frozenset(),
    redact: identity.Redactor = identity.AS_WRITTEN,
) -> dict[str, Any]:
    """For those who decide: who asks, from where, about which child (needs
    request.requester.agency and request.child loaded). A shielded child not in `named`
    (feeds/access/identity.py) shows its label only, and `redact` withholds the names the
    decider may not see from the reason."""
    person, child = request.requester, request.child
    if child is not None and identity.is_shielded(child) and child.id not in named:
        child = identity.disguised(child)
    return {
        **_common(request, redact),
        "child": None
        if child is None
        else {"id": child.id, "display_name": child.display_name, "reference": child.reference},
        "requester": {
            "id": person.id,
            "name": person.name,
            "job_title": person.job_title,
            "agency": person.agency.name,
        },
    }


async def decider_views(user: Professional, found: list[AccessRequest]) -> list[dict[str, Any]]:
    """`decider_view` of each, with the children whose identity `user` may see."""
    if not found:
        return []
    named = await identity.identified_ids(user, {r.child_id for r in found if r.child_id})
    redact = await identity.reasons_redactor(user)
    return [decider_view(r, named, redact) for r in found]


def requester_view(
    request: AccessRequest, redact: identity.Redactor = identity.AS_WRITTEN
) -> dict[str, Any]:
    """For the requester: what they typed and the answer, never which child it matched
    (nor, through the decider's words, the name of a shielded child: `redact`)."""
    declined = request.status == RequestStatus.DECLINED
    return {
        **_common(request, redact),
        "reference": request.reference,
        "decided_at": iso(request.decided_at),
        "decline_reason": redact(request.decline_reason) if declined else None,
    }


async def requester_views(user: Professional) -> list[dict[str, Any]]:
    """The requester's own requests, each a `requester_view`."""
    found = await requests.my_requests(user)
    redact = await identity.reasons_redactor(user) if found else identity.AS_WRITTEN
    return [requester_view(r, redact) for r in found]


def _listed(views: list[dict[str, Any]]) -> Response:
    return reply(build(schema.AccessRequests, {"access_requests": views}))


@api(
    schema.Sent,
    "Ask to join a child's record by its exact reference (the same answer either way)",
    body=schema.AccessRequestCreate,
    status=202,
    errors={429},
)
@authenticated
async def api_ask(request: Request, user: Professional) -> Response:
    data = await decode(request, schema.AccessRequestCreate)
    ctx = audit_context(request)
    await requests.do_request_access(user, data.reference, data.role, data.reason, ctx)
    return reply(schema.Sent(requests.SENT), status=202)


@api(schema.AccessRequests, "Open requests to join the children you decide for")
@authenticated
async def api_waiting(request: Request, user: Professional) -> Response:
    found = await requests.do_read_waiting(user, audit_context(request))
    return _listed(await decider_views(user, found))


@api(schema.MyRequests, "Your own requests to join, and their answers")
@authenticated
async def api_mine(request: Request, user: Professional) -> Response:
    mine = {"access_requests": await requester_views(user)}
    return reply(build(schema.MyRequests, mine))


@api(schema.AccessRequests, "Open requests to join this child's record", errors={403})
@authenticated
async def api_for_child(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    found = await requests.do_read_for_child(user, child_id, audit_context(request))
    return _listed(await decider_views(user, found))


@api(
    schema.AccessRequest,
    "Approve a request to join: a grant for `days` days",
    body=schema.Approval,
    body_required=False,
    errors={403, 409},
)
@authenticated
async def api_approve(request: Request, user: Professional) -> Response:
    # Approving needs no body: the expiry has a default.
    body = await request.body()
    days = (await decode(request, schema.Approval)).days if body or is_json(request) else None
    done = await requests.do_approve(
        user, path_id(request, "request_id"), days, audit_context(request)
    )
    (view,) = await decider_views(user, [done])
    return reply(build(schema.AccessRequest, {**view, "grant_id": done.grant_id}))


@api(
    schema.AccessRequest,
    "Decline a request to join, with a reason the requester sees",
    body=schema.Decline,
    errors={403, 409},
)
@authenticated
async def api_decline(request: Request, user: Professional) -> Response:
    data = await decode(request, schema.Decline)
    done = await requests.do_decline(
        user, path_id(request, "request_id"), data.reason, audit_context(request)
    )
    (view,) = await decider_views(user, [done])
    return reply(build(schema.AccessRequest, view))


# --- pages ------------------------------------------------------------------------------


async def _page(request: Request, user: Professional, status: int = 200, **extra: Any) -> Response:
    await header_context(request)
    waiting = await requests.do_read_waiting(user, audit_context(request))
    return render(
        request,
        "access_requests.html",
        status,
        user=me_view(user),
        waiting=await decider_views(user, waiting),
        mine=await requester_views(user),
        sent=requests.SENT if request.query_params.get("sent") == "1" else None,
        limits={
            "reason": requests.REASON_LENGTH,
            "role": requests.ROLE_LENGTH,
            "reference": requests.MAX_REFERENCE,
            "days": requests.DEFAULT_DAYS,
        },
        **extra,
    )


@authenticated
async def page(request: Request, user: Professional) -> Response:
    return await _page(request, user)


def _draft(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name) or "")[:600] for name in ("reference", "role", "reason")}


@authenticated
async def form_ask(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    try:
        await requests.do_request_access(
            user,
            form.get("reference"),
            form.get("role"),
            form.get("reason"),
            audit_context(request),
        )
    except (Invalid, Throttled) as error:
        status = 429 if isinstance(error, Throttled) else 422
        return await _page(request, user, status, error=error.message, draft=_draft(form))
    return RedirectResponse("/access-requests?sent=1", status_code=303)


def _back(form: FormData, child_id: int | None) -> RedirectResponse:
    default = f"/children/{child_id}#requests" if child_id else "/access-requests"
    return RedirectResponse(safe_next(str(form.get("next") or ""), default), status_code=303)


@authenticated
async def form_approve(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    done = await requests.do_approve(
        user, path_id(request, "request_id"), form.get("days"), audit_context(request)
    )
    return _back(form, done.child_id)


@authenticated
async def form_decline(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    done = await requests.do_decline(
        user, path_id(request, "request_id"), form.get("reason"), audit_context(request)
    )
    return _back(form, done.child_id)


routes = [
    Route("/api/v1/access-requests", api_ask, methods=["POST"]),
    Route("/api/v1/access-requests", api_waiting, methods=["GET"]),
    Route("/api/v1/access-requests/mine", api_mine, methods=["GET"]),
    Route("/api/v1/children/{child_id}/access-requests", api_for_child, methods=["GET"]),
    Route("/api/v1/access-requests/{request_id}/approve", api_approve, methods=["POST"]),
    Route("/api/v1/access-requests/{request_id}/decline", api_decline, methods=["POST"]),
    Route("/access-requests", page, methods=["GET"]),
    Route("/access-requests", form_ask, methods=["POST"]),
    Route("/access-requests/{request_id}/approve", form_approve, methods=["POST"]),
    Route("/access-requests/{request_id}/decline", form_decline, methods=["POST"]),
]
