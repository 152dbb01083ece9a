"""A child's chronology: JSON, CSV and PDF (API), the page with its filters, and marking a
post significant. Each handler parses, calls one feeds.chronology function and renders."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.access import identity
from feeds.access.policy import Action, may
from feeds.chronology import marking, reading
from feeds.chronology.entries import entry_view
from feeds.chronology.filters import KIND_LABELS, Filters, check_filters
from feeds.chronology.models import MAX_NOTE
from feeds.errors import Invalid
from feeds.models import Agency, Professional
from feeds.network.households import membership_of
from feeds.serializers import author_view, me_view
from server.dates import parse_day
from server.endpoints import audit_context, authenticated, path_id, read_form
from server.page_context import header_context
from server.routes.page_render import render, safe_next
from server.schemas import chronology as schema
from server.schemas.codec import build, decode, invalid, reply
from server.schemas.operation import api

DAY = "{} must be a date written YYYY-MM-DD."


def parse_filters(request: Request) -> Filters:
    """The query string as filters; a repeated kind or agency (a form's checkboxes) counts
    like a comma-separated list."""
    params = request.query_params
    merged = {name: ",".join(v for v in params.getlist(name) if v != "") for name in params}
    try:
        query = msgspec.convert(
            {k: v for k, v in merged.items() if v}, schema.ChronologyQuery, strict=False
        )
    except msgspec.ValidationError as error:
        raise invalid(error, schema.ChronologyQuery) from None
    since = parse_day(query.from_, DAY.format("from"), "from") if query.from_ else None
    until = parse_day(query.to, DAY.format("to"), "to") if query.to else None
    return check_filters(
        since, until, query.kinds, query.agencies, query.significant, query.household
    )


def _chronology_view(found: reading.Chronology) -> dict[str, Any]:
    child = found.children[0]
    references = {c.id: c.reference for c in found.children}
    return {
        "child": {"id": child.id, "display_name": child.display_name, "reference": child.reference},
        "filters": found.filters.as_detail(),
        "generated_at": found.generated_at.isoformat(),
        "generated_by": found.generated_by,
        "entries": [entry_view(e, references) for e in found.entries],
    }


@api(schema.Chronology, "The child's chronology (audited)", query=schema.ChronologyQuery)
@authenticated
async def api_read(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    found = await reading.do_read(user, child_id, parse_filters(request), audit_context(request))
    return reply(build(schema.Chronology, _chronology_view(found)))


async def _export(request: Request, user: Professional, kind: reading.Format) -> Response:
    child_id = path_id(request, "child_id")
    filters = parse_filters(request)
    done = await reading.do_export(user, child_id, filters, kind, audit_context(request))
    headers = {
        "content-disposition": f'attachment; filename="{done.filename}"',
        "x-content-sha256": done.sha256,
    }
    return Response(done.content, media_type=done.media_type, headers=headers)


@api(
    str,
    "The child's chronology as CSV (audited with its filters and SHA-256; no emergency access)",
    query=schema.ChronologyQuery,
    errors={403},
    media_type="text/csv",
)
@authenticated
async def api_csv(request: Request, user: Professional) -> Response:
    return await _export(request, user, reading.Format.CSV)


@api(
    bytes,
    "The child's chronology as a paginated PDF marked OFFICIAL-SENSITIVE (audited with its "
    "filters and SHA-256; no emergency access)",
    query=schema.ChronologyQuery,
    errors={403},
    media_type="application/pdf",
)
@authenticated
async def api_pdf(request: Request, user: Professional) -> Response:
    return await _export(request, user, reading.Format.PDF)


@api(
    schema.Significance,
    "Mark a post significant for the chronology (its author or the lead professional)",
    body=schema.SignificanceUpdate,
    errors={403, 409},
)
@authenticated
async def api_mark(request: Request, user: Professional) -> Response:
    post_id = path_id(request, "post_id")
    data = await decode(request, schema.SignificanceUpdate)
    chosen = marking.check_marking(data.significant, data.action_taken, data.outcome)
    found = await marking.do_mark(user, post_id, chosen, audit_context(request))
    earlier = await marking.revisions_of(found)
    return reply(build(schema.Significance, marking.significance_view(post_id, found, earlier)))


# --- pages ------------------------------------------------------------------------------


async def _agencies() -> list[dict[str, Any]]:
    return list(await Agency.all().order_by("name").values("id", "name"))


@authenticated
async def page(request: Request, user: Professional) -> Response:
    await header_context(request)
    child_id = path_id(request, "child_id")
    try:
        filters = parse_filters(request)
    except Invalid as error:
        return render(
            request,
            "chronology.html",
            422,
            user=me_view(user),
            child={"id": child_id},
            error=error.message,
            **await _form_context(Filters()),
        )
    found = await reading.do_read(user, child_id, filters, audit_context(request))
    view = _chronology_view(found)
    return render(
        request,
        "chronology.html",
        user=me_view(user),
        in_household=await membership_of(child_id) is not None,
        child=view["child"],
        entries=view["entries"],
        generated_by=found.generated_by,
        query=request.url.query,
        # The lead may mark any post; others see the link on their own posts only.
        may_mark_any=await may(user, Action.MARK_SIGNIFICANT, found.children[0]),
        **await _form_context(filters),
    )


async def _form_context(filters: Filters) -> dict[str, Any]:
    return {
        "filters": filters.as_detail(),
        "kind_labels": KIND_LABELS,
        "agencies": await _agencies(),
    }


@authenticated
async def mark_page(request: Request, user: Professional) -> Response:
    return await _mark_page(request, user)


async def _mark_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    await header_context(request)
    post_id = path_id(request, "post_id")
    shown = await marking.do_read_marking(user, post_id, audit_context(request))
    post = shown.post
    current = marking.significance_view(post.id, shown.significance, shown.revisions)
    redact = await identity.redactor(user, [post.child_id])
    return render(
        request,
        "significance.html",
        status,
        user=me_view(user),
        post={
            "id": post.id,
            "child_id": post.child_id,
            "kind": str(post.kind),
            "body": redact(post.body),
            "created_at": post.created_at.isoformat(),
            "author": author_view(post.author),
        },
        current=current,
        max_note=MAX_NOTE,
        **extra,
    )


@authenticated
async def mark_form(request: Request, user: Professional) -> Response:
    post_id = path_id(request, "post_id")
    form = await read_form(request)
    try:
        chosen = marking.check_marking(
            form.get("significant") in {"true", "on", "1"},
            form.get("action_taken"),
            form.get("outcome"),
        )
        found = await marking.do_mark(user, post_id, chosen, audit_context(request))
    except Invalid as error:
        return await _mark_page(request, user, 422, error=error.message)
    default = f"/children/{found.child_id}/chronology"
    return RedirectResponse(safe_next(str(form.get("next") or ""), default), status_code=303)


routes = [
    Route("/api/v1/children/{child_id}/chronology", api_read, methods=["GET"]),
    Route("/api/v1/children/{child_id}/chronology.csv", api_csv, methods=["GET"]),
    Route("/api/v1/children/{child_id}/chronology.pdf", api_pdf, methods=["GET"]),
    Route("/api/v1/posts/{post_id}/significance", api_mark, methods=["PUT"]),
    Route("/children/{child_id}/chronology", page, methods=["GET"]),
    Route("/posts/{post_id}/significance", mark_page, methods=["GET"]),
    Route("/posts/{post_id}/significance", mark_form, methods=["POST"]),
]
