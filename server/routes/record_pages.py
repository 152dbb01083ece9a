"""Pages for a child's record: a new child (managers, administrators), and the record
page where those who may change it edit it, see its history, close and reopen the case."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.audit.actions import AuditAction
from feeds.errors import Conflict, Invalid
from feeds.models import Professional
from feeds.records import children, shielding
from feeds.records.authority import check_may_create, check_may_manage
from feeds.records.views import history_view, identified
from feeds.serializers import me_view
from server.endpoints import audit_context, authenticated, path_id, read_form
from server.routes.page_render import render

FIELDS = ("display_name", "reference", "date_of_birth", "school", "area")
FormError = (Invalid, Conflict)


async def _lead_id(form: FormData) -> int:
    email = str(form.get("lead_email") or "").strip().lower()
    lead = await Professional.get_or_none(email=email, is_active=True) if email else None
    if lead is None:
        raise Invalid("Nobody active with that lead professional's email.", field="lead_email")
    return lead.id


async def _record_data(form: FormData, every_field: bool = True) -> dict[str, object]:
    """The record's fields from a form; an edit form sends only those its viewer may see."""
    names = FIELDS if every_field else [name for name in FIELDS if name in form]
    data: dict[str, object] = {name: str(form.get(name) or "") for name in names}
    data["lead_professional_id"] = await _lead_id(form)
    return data


def _draft(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name) or "")[:200] for name in (*FIELDS, "lead_email")}


def _status(error: Exception) -> int:
    return 409 if isinstance(error, Conflict) else 422


def _new_page(request: Request, user: Professional, status: int = 200, **extra: Any) -> Response:
    created = request.query_params.get("created", "")[:32]
    return render(request, "child_new.html", status, user=me_view(user), created=created, **extra)


@authenticated
async def new_child_form(request: Request, user: Professional) -> Response:
    await check_may_create(user, audit_context(request))
    return _new_page(request, user, form={})


@authenticated
async def new_child(request: Request, user: Professional) -> Response:
    ctx = audit_context(request)
    await check_may_create(user, ctx)
    form = await read_form(request)
    try:
        child = await children.do_create_child(user, await _record_data(form), ctx)
    except FormError as error:
        return _new_page(request, user, _status(error), error=error.message, form=_draft(form))
    # The creator may have no access to the new child: confirm here, by reference only.
    return RedirectResponse(f"/children/new?created={child.reference}", status_code=303)


async def record_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    child, revisions = await children.do_read_history(
        user, path_id(request, "child_id"), audit_context(request)
    )
    lead = await Professional.get_or_none(id=child.lead_professional_id or 0)
    history = await history_view(user, child, revisions)
    return render(
        request,
        "child_record.html",
        status,
        user=me_view(user),
        child=history["child"],
        identified=await identified(user, child),
        can_shield=await shielding.may_shield(user, child),
        shield_back=f"/children/{child.id}/record",
        lead_email=lead.email if lead else "",
        revisions=history["revisions"],
        **extra,
    )


@authenticated
async def show_record(request: Request, user: Professional) -> Response:
    return await record_page(request, user)


@authenticated
async def edit_record(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    child_id, ctx = path_id(request, "child_id"), audit_context(request)
    # Asked before the lead's email is looked up, so the form cannot probe for emails.
    await check_may_manage(user, child_id, AuditAction.CHILD_EDIT, ctx)
    try:
        data = await _record_data(form, every_field=False)
        await children.do_edit_child(user, child_id, data, ctx)
    except FormError as error:
        return await record_page(request, user, _status(error), error=error.message)
    return RedirectResponse(f"/children/{child_id}/record?done=edited", status_code=303)


@authenticated
async def edit_whereabouts(request: Request, user: Professional) -> Response:
    """The lead professional's form on the child page: school and area only."""
    form = await read_form(request)
    child_id, ctx = path_id(request, "child_id"), audit_context(request)
    data = {name: str(form.get(name) or "") for name in ("school", "area")}
    await children.do_edit_child(user, child_id, data, ctx)
    return RedirectResponse(f"/children/{child_id}?done=whereabouts", status_code=303)


@authenticated
async def close_case(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    await children.do_close_child(user, child_id, audit_context(request))
    return RedirectResponse(f"/children/{child_id}/record?done=closed", status_code=303)


@authenticated
async def reopen_case(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    await children.do_reopen_child(user, child_id, audit_context(request))
    return RedirectResponse(f"/children/{child_id}/record?done=reopened", status_code=303)


routes = [
    Route("/children/new", new_child_form, methods=["GET"]),
    Route("/children/new", new_child, methods=["POST"]),
    Route("/children/{child_id}/record", show_record, methods=["GET"]),
    Route("/children/{child_id}/record", edit_record, methods=["POST"]),
    Route("/children/{child_id}/whereabouts", edit_whereabouts, methods=["POST"]),
    Route("/children/{child_id}/close", close_case, methods=["POST"]),
    Route("/children/{child_id}/reopen", reopen_case, methods=["POST"]),
]
