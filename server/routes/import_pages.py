"""The administrators' import page: paste (or, with JavaScript, pick) a CSV file, preview
what it would do (a dry run), then confirm. The same feeds actions as `jigsaw import`.

The file travels as a field of an ordinary URL-encoded form: the app refuses multipart
bodies and any body over 64 KiB (server/body_limit.py), so the page takes files up to
about 40 KB (a few hundred rows); bigger ones go through `jigsaw import` on the server.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.audit.actions import AuditAction
from feeds.csv_import import Importer, Report
from feeds.errors import Conflict, Invalid
from feeds.models import Professional
from feeds.organisation.admin import check_admin
from feeds.organisation.importing import do_import_people
from feeds.records.importing import do_import_children
from feeds.serializers import me_view
from server.endpoints import audit_context, authenticated, read_form
from server.routes.page_render import render

IMPORTERS: dict[str, Importer] = {"children": do_import_children, "people": do_import_people}
PAGE_LIMIT = 40_000  # characters of CSV the page accepts (the body limit is 64 KiB, encoded)


def _page(request: Request, user: Professional, status: int = 200, **extra: Any) -> Response:
    return render(
        request, "admin_import.html", status, user=me_view(user), limit=PAGE_LIMIT, **extra
    )


@authenticated
async def show_import(request: Request, user: Professional) -> Response:
    await check_admin(user, AuditAction.IMPORT_CHILDREN, audit_context(request))
    return _page(request, user, form={"kind": "children"})


def _view(report: Report) -> dict[str, Any]:
    return {
        "kind": report.kind,
        "counts": report.counts,
        "applied": report.applied,
        "dry_run": report.dry_run,
        "rows": [r for r in report.rows if r.outcome in ("changed", "refused", "created")],
        "refused": len(report.refused),
    }


async def _run(request: Request, user: Professional, dry_run: bool) -> Response:
    form = await read_form(request)
    kind, text = str(form.get("kind") or ""), str(form.get("csv") or "")
    draft = {"kind": kind, "reason": str(form.get("reason") or "")[:500], "csv": text}
    importer = IMPORTERS.get(kind)
    if importer is None:
        return _page(request, user, 422, error="Choose children or people.", form=draft)
    if len(text) > PAGE_LIMIT:
        error = f"The page takes files up to {PAGE_LIMIT:,} characters: use `jigsaw import`."
        return _page(request, user, 422, error=error, form=draft)
    try:
        report = await importer(
            user, text.encode(), draft["reason"], audit_context(request), dry_run=dry_run
        )
    except (Invalid, Conflict) as error:
        return _page(
            request,
            user,
            409 if isinstance(error, Conflict) else 422,
            error=error.message,
            form=draft,
        )
    status = 422 if report.refused and not dry_run else 200
    done = {**draft, "csv": ""} if report.applied else draft
    return _page(request, user, status, report=_view(report), form=done)


@authenticated
async def preview_import(request: Request, user: Professional) -> Response:
    """A dry run: what the file would create, change and refuse; nothing is written."""
    return await _run(request, user, dry_run=True)


@authenticated
async def confirm_import(request: Request, user: Professional) -> Response:
    """The import itself (checked again: the database may have moved since the preview)."""
    return await _run(request, user, dry_run=False)


routes = [
    Route("/admin/import", show_import, methods=["GET"]),
    Route("/admin/import/preview", preview_import, methods=["POST"]),
    Route("/admin/import", confirm_import, methods=["POST"]),
]
