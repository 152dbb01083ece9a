"""Break-glass: open a child's record in an emergency (API and form), and the
administrators' review list."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.access import breakglass, identity
from feeds.errors import Forbidden, Invalid
from feeds.models import BreakGlass, Professional, Role
from feeds.serializers import iso, me_view
from server.endpoints import audit_context, authenticated, path_id, read_form, settings_of
from server.page_context import header_context
from server.routes.page_render import render
from server.schemas import trust as schema
from server.schemas.codec import build, decode, decode_query, is_json, reply
from server.schemas.operation import api


def break_glass_view(access: BreakGlass, redact: identity.Redactor) -> dict[str, Any]:
    """One use as a viewer reads it: the reason and note with the shielded names the
    viewer may not see withheld (`identity.reasons_redactor`)."""
    view: dict[str, Any] = {
        "id": access.id,
        "child_id": access.child_id,
        "professional_id": access.professional_id,
        "reason": redact(access.reason),
        "started_at": iso(access.started_at),
        "expires_at": iso(access.expires_at),
        "reviewed_at": iso(access.reviewed_at),
        "review_note": redact(access.review_note),
    }
    if isinstance(access.professional, Professional):
        view["professional"] = {"id": access.professional.id, "name": access.professional.name}
    return view


def _check_admin(user: Professional) -> None:
    if user.role != Role.ADMIN:
        raise Forbidden("Only administrators review emergency access.")


def _reviewed(request: Request) -> bool | None:
    """?reviewed=true|false|all (all: None)."""
    reviewed = decode_query(request, schema.BreakGlassQuery).reviewed
    return None if reviewed == "all" else reviewed == "true"


@api(
    schema.BreakGlass,
    "Emergency access without a grant: a reason, time-boxed, alerts (audited)",
    status=201,
    body=schema.BreakGlassOpen,
    errors={403},
)
@authenticated
async def api_open(request: Request, user: Professional) -> Response:
    data = await decode(request, schema.BreakGlassOpen)
    access = await breakglass.do_break_glass(
        user,
        path_id(request, "child_id"),
        data.reason,
        audit_context(request),
        settings_of(request).break_glass,
    )
    view = break_glass_view(access, await identity.reasons_redactor(user))
    return reply(build(schema.BreakGlass, view), 201)


@api(
    schema.BreakGlassList,
    "Administrators: every emergency access, newest first",
    query=schema.BreakGlassQuery,
    errors={403},
)
@authenticated
async def api_list(request: Request, user: Professional) -> Response:
    _check_admin(user)
    uses, redact = await _uses(request), await identity.reasons_redactor(user)
    views = {"break_glass": [break_glass_view(u, redact) for u in uses]}
    return reply(build(schema.BreakGlassList, views))


async def _uses(request: Request) -> list[BreakGlass]:
    """The uses the query's filters ask for: review state, person (email or part of a
    name) and child reference, as typed."""
    query = decode_query(request, schema.BreakGlassQuery)
    return await breakglass.break_glass_uses(
        _reviewed(request),
        person=(query.person or "").strip() or None,
        child_ref=(query.child_ref or "").strip() or None,
    )


@api(
    schema.BreakGlass,
    "Administrators: mark an emergency access reviewed, with an optional note",
    body=schema.BreakGlassReview,
    body_required=False,
    errors={403},
)
@authenticated
async def api_review(request: Request, user: Professional) -> Response:
    note = (await decode(request, schema.BreakGlassReview)).note if is_json(request) else None
    access = await breakglass.do_review_break_glass(
        user, path_id(request, "break_glass_id"), note or "", audit_context(request)
    )
    view = break_glass_view(access, await identity.reasons_redactor(user))
    return reply(build(schema.BreakGlass, view))


REFUSAL = "No such child, or you do not have access to this child."


async def refusal_page(
    request: Request,
    user: Professional,
    child_id: int,
    status: int = 404,
    error: str | None = None,
    reason: str = "",
) -> Response:
    """The child page's refusal, with the break-glass form for those who may use it.

    It says the same for a hidden child and a missing one (the form is offered for both),
    so it reveals nothing the plain 404 did not.
    """
    await header_context(request)
    offer = None
    if breakglass.may_break_glass(user):
        hours = int(settings_of(request).break_glass.total_seconds() // 3600)
        offer = {
            "child_id": child_id,
            "hours": hours,
            "min": breakglass.MIN_REASON,
            "max": breakglass.MAX_REASON,
        }
    return render(
        request,
        "child_refused.html",
        status,
        user=me_view(user),
        message=REFUSAL,
        break_glass=offer,
        error=error,
        reason=reason,
    )


@authenticated
async def form_open(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    child_id = path_id(request, "child_id")
    reason = form.get("reason")
    try:
        await breakglass.do_break_glass(
            user, child_id, reason, audit_context(request), settings_of(request).break_glass
        )
    except Invalid as error:
        draft = reason[: breakglass.MAX_REASON * 2] if isinstance(reason, str) else ""
        return await refusal_page(request, user, child_id, 422, error.message, draft)
    return RedirectResponse(f"/children/{child_id}", status_code=303)


@authenticated
async def review_page(request: Request, user: Professional) -> Response:
    _check_admin(user)
    form = dict(request.query_params)
    try:
        uses = await _uses(request)
    except Invalid as error:  # a name that matches nobody: say so beside the filters
        context = {"user": me_view(user), "uses": [], "form": form, "error": error.message}
        return render(request, "break_glass_review.html", 422, **context)
    # Administrators hold no grant: they see the case reference, never the child's name
    # (nor, for a shielded child, its reference: its label).
    children = await identity.as_seen_by(user, [u.child for u in uses])
    redact = await identity.reasons_redactor(user)
    views = [
        {
            **break_glass_view(u, redact),
            "child_reference": c.reference or c.display_name,
            "shielded": c.shielded_at is not None,
        }
        for u, c in zip(uses, children, strict=True)
    ]
    return render(request, "break_glass_review.html", user=me_view(user), uses=views, form=form)


@authenticated
async def form_review(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    await breakglass.do_review_break_glass(
        user, path_id(request, "break_glass_id"), form.get("note"), audit_context(request)
    )
    return RedirectResponse("/admin/break-glass", status_code=303)


routes = [
    Route("/api/v1/children/{child_id}/break-glass", api_open, methods=["POST"]),
    Route("/api/v1/break-glass", api_list, methods=["GET"]),
    Route("/api/v1/break-glass/{break_glass_id}/review", api_review, methods=["POST"]),
    Route("/children/{child_id}/break-glass", form_open, methods=["POST"]),
    Route("/admin/break-glass", review_page, methods=["GET"]),
    Route("/admin/break-glass/{break_glass_id}/review", form_review, methods=["POST"]),
]
