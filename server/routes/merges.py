"""Merging a duplicate child's record into another: the JSON API, the confirmation page on
a record, and the administrators' list of recent merges with Undo. Each handler calls one
feeds/records/merging action. A merged record's page and JSON answer 303 to the record it
was merged into, for whoever may see that record (everyone else: the usual 404)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.access import identity
from feeds.access.policy import may_view
from feeds.errors import Conflict, DomainError, Invalid, NotFound
from feeds.lookup import references_of
from feeds.models import Child, Professional
from feeds.records import merging
from feeds.records.merge_moves import counts
from feeds.records.models import ChildMerge
from feeds.records.views import identified, record_view
from feeds.serializers import iso, me_view
from server.endpoints import audit_context, authenticated, path_id, read_form
from server.routes.page_render import render
from server.schemas import merges as schema
from server.schemas.codec import build, decode, reply
from server.schemas.operation import api

FormError = (Invalid, Conflict, NotFound)


async def merge_views(user: Professional, found: list[ChildMerge]) -> list[dict[str, Any]]:
    """Merges as plain data, naming both records by reference (never by name); the reason
    with the shielded names `user` may not see withheld."""
    refs = await references_of({m.survivor_id for m in found} | {m.merged_id for m in found})
    redact = await identity.reasons_redactor(user) if found else identity.AS_WRITTEN
    return [
        {
            "id": m.id,
            "survivor_id": m.survivor_id,
            "survivor_reference": refs.get(m.survivor_id, ""),
            "merged_id": m.merged_id,
            "merged_reference": refs.get(m.merged_id, ""),
            "merged_by_id": m.merged_by_id,
            "reason": redact(m.reason),
            "at": iso(m.at),
            "undo_until": iso(merging.undo_until(m)),
            "undone_at": iso(m.undone_at),
            "undone_by_id": m.undone_by_id,
            "moved": counts(m.moved),
        }
        for m in found
    ]


async def _one(user: Professional, merge: ChildMerge, status: int = 200) -> Response:
    return reply(build(schema.Merge, (await merge_views(user, [merge]))[0]), status)


def _duplicate(data: schema.MergeCreate) -> int | str:
    if (data.merged_id is None) == (data.merged_reference is None):
        raise Invalid("Name the duplicate by exactly one of merged_reference or merged_id.")
    return data.merged_id if data.merged_id is not None else str(data.merged_reference)


@api(
    schema.Merge,
    "Managers of both records and administrators: merge a duplicate record into this one",
    status=201,
    body=schema.MergeCreate,
    errors={403, 409},
)
@authenticated
async def merge_child(request: Request, user: Professional) -> Response:
    data = await decode(request, schema.MergeCreate)
    merge = await merging.do_merge_children(
        user, path_id(request, "child_id"), _duplicate(data), data.reason, audit_context(request)
    )
    return await _one(user, merge, 201)


@api(schema.Merges, "Administrators: the merges of the last 30 days", errors={403})
@authenticated
async def list_merges(request: Request, user: Professional) -> Response:
    found = await merging.do_read_recent(user, audit_context(request))
    return reply(build(schema.Merges, {"merges": await merge_views(user, found)}))


@api(
    schema.Merge,
    "Administrators, within 30 days: undo a merge",
    body=schema.MergeUndo,
    errors={403, 409},
)
@authenticated
async def undo_merge(request: Request, user: Professional) -> Response:
    merge_id = path_id(request, "merge_id")
    data = await decode(request, schema.MergeUndo)
    merge = await merging.do_unmerge_children(user, merge_id, data.reason, audit_context(request))
    return await _one(user, merge)


async def survivor_redirect(user: Professional, child_id: int, path: str) -> Response | None:
    """303 to the same path on the record this one was merged into, when `user` may see
    it; None otherwise (the caller answers its usual 404). `path` has `{id}`."""
    survivor = await merging.survivor_of(child_id)
    if survivor is None or not await may_view(user, survivor):
        return None
    return RedirectResponse(path.format(id=survivor), status_code=303)


# --- pages ------------------------------------------------------------------------------


async def _merge_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    return render(request, "child_merge.html", status, user=me_view(user), **extra)


def _error_status(error: DomainError) -> int:
    return 409 if isinstance(error, Conflict) else 404 if isinstance(error, NotFound) else 422


async def _refused(
    request: Request, user: Professional, survivor: Child, error: DomainError, reference: str
) -> Response:
    """The form again, saying why: the duplicate was hidden, absent, closed or the same."""
    return await _merge_page(
        request,
        user,
        _error_status(error),
        child=record_view(survivor, await identified(user, survivor)),
        error=error.message,
        reference=reference,
    )


@authenticated
async def merge_form(request: Request, user: Professional) -> Response:
    """Step 1: the duplicate's reference; step 2 (?reference=): what will move, and why."""
    child_id, ctx = path_id(request, "child_id"), audit_context(request)
    reference = request.query_params.get("reference", "").strip()[:64]
    if not reference:
        survivor = await merging.do_open_merge(user, child_id, ctx)
        shown = record_view(survivor, await identified(user, survivor))
        return await _merge_page(request, user, child=shown, reference="")
    survivor = await merging.check_survivor(user, child_id, merging.PREVIEW, ctx)
    try:
        pair, found = await merging.do_preview_merge(user, survivor, reference, ctx)
    except FormError as error:
        return await _refused(request, user, survivor, error, reference)
    return await _merge_page(
        request,
        user,
        child=record_view(pair.survivor, await identified(user, pair.survivor)),
        merged=record_view(pair.merged, await identified(user, pair.merged)),
        counts=found,
        reference=pair.merged.reference,
    )


@authenticated
async def merge_submit(request: Request, user: Professional) -> Response:
    child_id, ctx = path_id(request, "child_id"), audit_context(request)
    survivor = await merging.check_survivor(user, child_id, merging.MERGE, ctx)
    form = await read_form(request)
    reference = str(form.get("merged_reference") or "").strip()[:64]
    try:
        await merging.do_merge_children(user, child_id, reference, form.get("reason"), ctx)
    except FormError as error:
        return await _refused(request, user, survivor, error, reference)
    return RedirectResponse(f"/children/{child_id}/record?done=merged", status_code=303)


async def _merges_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    found = await merging.do_read_recent(user, audit_context(request))
    return render(
        request,
        "admin_merges.html",
        status,
        user=me_view(user),
        merges=await merge_views(user, found),
        **extra,
    )


@authenticated
async def show_merges(request: Request, user: Professional) -> Response:
    return await _merges_page(request, user)


@authenticated
async def undo_merge_form(request: Request, user: Professional) -> Response:
    merge_id = path_id(request, "merge_id")
    form = await read_form(request)
    try:
        await merging.do_unmerge_children(
            user, merge_id, form.get("reason"), audit_context(request)
        )
    except (Invalid, Conflict) as error:
        status = 409 if isinstance(error, Conflict) else 422
        return await _merges_page(request, user, status, error=error.message)
    return RedirectResponse("/admin/merges?done=undone", status_code=303)


routes = [
    Route("/api/v1/children/{child_id}/merge", merge_child, methods=["POST"]),
    Route("/api/v1/admin/merges", list_merges, methods=["GET"]),
    Route("/api/v1/admin/merges/{merge_id}/undo", undo_merge, methods=["POST"]),
    Route("/children/{child_id}/merge", merge_form, methods=["GET"]),
    Route("/children/{child_id}/merge", merge_submit, methods=["POST"]),
    Route("/admin/merges", show_merges, methods=["GET"]),
    Route("/admin/merges/{merge_id}/undo", undo_merge_form, methods=["POST"]),
]
