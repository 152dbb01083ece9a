"""Shielding a child (issue 17 part 3): the API and the forms on the child and record pages.
Who may and what it hides: feeds/records/shielding.py and feeds/access/identity.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.errors import Invalid
from feeds.models import Professional
from feeds.records import shielding
from feeds.records.views import identified, record_view
from server.endpoints import audit_context, authenticated, path_id, read_form
from server.schemas import records as schema
from server.schemas.codec import build, decode, reply
from server.schemas.operation import api
from server.schemas.posts import Child

ERRORS = {403, 409}


async def _shown(user: Professional, child_id: int) -> Response:
    child = await shielding.current(child_id)
    return reply(build(Child, record_view(child, await identified(user, child))))


@api(
    Child,
    "The lead professional or an administrator: shield the child (name and reference for "
    "direct grants only), with a reason (audited)",
    body=schema.ShieldChange,
    errors=ERRORS,
)
@authenticated
async def api_shield(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    data = await decode(request, schema.ShieldChange)
    await shielding.do_shield_child(user, child_id, data.reason, audit_context(request))
    return await _shown(user, child_id)


@api(
    Child,
    "The lead professional or an administrator: lift the shield, with a reason (audited)",
    body=schema.ShieldChange,
    errors=ERRORS,
)
@authenticated
async def api_unshield(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    data = await decode(request, schema.ShieldChange)
    await shielding.do_unshield_child(user, child_id, data.reason, audit_context(request))
    return await _shown(user, child_id)


def _back(child_id: int, form_value: object) -> str:
    """Back to the page the form was on: the child page or the record page."""
    record = f"/children/{child_id}/record"
    return record if form_value == record else f"/children/{child_id}"


async def _form(request: Request, user: Professional, shield: bool) -> Response:
    form = await read_form(request)
    child_id, ctx = path_id(request, "child_id"), audit_context(request)
    back = _back(child_id, form.get("back"))
    change = shielding.do_shield_child if shield else shielding.do_unshield_child
    if form.get("confirm") != "yes":
        await shielding.check_may_shield(user, child_id, shield, ctx)
        return RedirectResponse(f"{back}?shield=unconfirmed#shield", status_code=303)
    try:
        await change(user, child_id, form.get("reason"), ctx)
    except Invalid:
        return RedirectResponse(f"{back}?shield=reason#shield", status_code=303)
    return RedirectResponse(f"{back}?shield=done#shield", status_code=303)


@authenticated
async def form_shield(request: Request, user: Professional) -> Response:
    return await _form(request, user, shield=True)


@authenticated
async def form_unshield(request: Request, user: Professional) -> Response:
    return await _form(request, user, shield=False)


routes = [
    Route("/api/v1/children/{child_id}/shield", api_shield, methods=["POST"]),
    Route("/api/v1/children/{child_id}/unshield", api_unshield, methods=["POST"]),
    Route("/children/{child_id}/shield", form_shield, methods=["POST"]),
    Route("/children/{child_id}/unshield", form_unshield, methods=["POST"]),
]
