"""The administrators' import page: upload a CSV file (up to 20 MiB: a 50,000-child export
is about 3.5 MiB), see what it would create, change and refuse (a dry run), then confirm.
The same feeds actions, checks and audit records as `jigsaw import`.

Between the preview and the confirmation the file is not kept on the server: the
confirmation uploads it again. The file holds personal data about thousands of children,
and a copy left in a temporary directory (or the database) would be one more copy to guard
and delete; a re-upload keeps none, and works with any number of workers or hosts. What
binds the confirmation to the preview is a signed token (who, which kind, the reason and
the file's SHA-256, for an hour): another file, or a preview by someone else, is refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds import import_audit
from feeds.audit.actions import AuditAction
from feeds.csv_import import Importer, Report, digest
from feeds.errors import Conflict, Forbidden, Invalid
from feeds.models import Professional
from feeds.organisation.admin import check_admin
from feeds.organisation.importing import do_import_people
from feeds.records.importing import do_import_children
from feeds.serializers import me_view
from server.endpoints import audit_context, authenticated, settings_of
from server.routes import import_stream
from server.routes.page_render import render
from server.uploads import IMPORT_FILE_BYTES, Upload, UploadRefused, read_upload, size_text

IMPORTERS: dict[str, Importer] = {"children": do_import_children, "people": do_import_people}
ACTIONS = {"children": AuditAction.IMPORT_CHILDREN, "people": AuditAction.IMPORT_PEOPLE}
PREVIEW_SECONDS = 3600  # how long a preview can be confirmed
SHOWN = 500  # report rows on the page; the counts say how many there were
TEMPLATE, RESULT = "admin_import.html", "partials/import_result.html"
CHOOSE = "Choose children or people."
FAILED = "The import failed: nothing was imported (it is written in one transaction). Try again."
AGAIN = "This is not the file you previewed, or the preview is over an hour old: preview it again."


def _context(user: Professional, **extra: Any) -> dict[str, Any]:
    limit = {"limit": size_text(IMPORT_FILE_BYTES), "limit_bytes": IMPORT_FILE_BYTES}
    return {"user": me_view(user), **limit, **extra}


def _page(request: Request, user: Professional, status: int = 200, **extra: Any) -> Response:
    return render(request, TEMPLATE, status, **_context(user, **extra))


@authenticated
async def show_import(request: Request, user: Professional) -> Response:
    await check_admin(user, AuditAction.IMPORT_CHILDREN, audit_context(request))
    return _page(request, user, form={"kind": "children"})


def _signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(settings_of(request).secret_key), salt="jigsaw-import")


def _previewed(request: Request, user: Professional, kind: str, upload: Upload) -> str:
    """The reason given at the preview this confirms; Conflict unless the same person
    previewed the same kind and the same file within the hour."""
    try:
        by, was, reason, sha256 = _signer(request).loads(
            upload.fields.get("previewed", ""), max_age=PREVIEW_SECONDS
        )
    except (BadSignature, ValueError, TypeError):
        raise Conflict(AGAIN, field="file") from None
    if (by, was, sha256) != (user.id, kind, digest(upload.data)):
        raise Conflict(AGAIN, field="file")
    return str(reason)


def _report_view(report: Report) -> dict[str, Any]:
    shown = [r for r in report.rows if r.outcome != "unchanged"]
    return {
        "kind": report.kind,
        "counts": report.counts,
        "applied": report.applied,
        "dry_run": report.dry_run,
        "rows": shown[:SHOWN],
        "more": max(len(shown) - SHOWN, 0),
        "refused": len(report.refused),
    }


def _outcome(
    request: Request, user: Professional, task: asyncio.Task[Report], form: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """(status, context) for a finished import: its report, or why it stopped."""
    try:
        report = task.result()
    except (Invalid, Conflict) as error:
        status = 409 if isinstance(error, Conflict) else 422
        return status, {"error": error.message, "failed": True}
    except Exception:  # logged by import_stream.Watch; only ever seen in a streamed page
        return 500, {"error": FAILED, "failed": True}
    extra: dict[str, Any] = {"report": _report_view(report)}
    if report.dry_run and not report.refused:
        token = [user.id, report.kind, form["reason"], report.sha256]
        extra["previewed"] = _signer(request).dumps(token)
    return (422 if report.refused and not report.dry_run else 200), extra


async def _run(
    request: Request, user: Professional, form: dict[str, str], upload: Upload, dry_run: bool
) -> Response:
    importer, ctx = IMPORTERS[form["kind"]], audit_context(request)
    task, watch = await import_stream.start(
        request,
        lambda progress: importer(
            user, upload.data, form["reason"], ctx, dry_run=dry_run, progress=progress
        ),
    )
    shown: dict[str, Any] = {"form": form, "filename": upload.name, "dry_run": dry_run}
    if task.done():
        error = task.exception()
        if isinstance(error, Forbidden):
            raise error  # the app's 403 page; any other failure is said on the import page
        status, extra = _outcome(request, user, task, form)
        return _page(request, user, status, **shown, **extra)
    page = _page(request, user, streaming=True, **shown)

    def result() -> str:
        _, extra = _outcome(request, user, task, form)
        context = _context(user, **shown, **extra, csrf_token=request.scope["csrftoken"]())
        return str(request.app.state.templates.get_template(RESULT).render(context))

    return import_stream.streamed(bytes(page.body).decode(), watch, task, result)


async def _read(request: Request, user: Professional, fields: tuple[str, ...]) -> Upload | Response:
    try:
        return await read_upload(request, IMPORT_FILE_BYTES, fields)
    except UploadRefused as refused:
        return _page(request, user, refused.status, error=refused.message, form={})


@authenticated
async def preview_import(request: Request, user: Professional) -> Response:
    """A dry run: what the file would create, change and refuse; nothing is written."""
    upload = await _read(request, user, ("kind", "reason"))
    if isinstance(upload, Response):
        return upload
    form = {"kind": upload.fields.get("kind", ""), "reason": upload.fields.get("reason", "")[:500]}
    if form["kind"] not in IMPORTERS:
        return _page(request, user, 422, error=CHOOSE, form=form)
    return await _run(request, user, form, upload, dry_run=True)


@authenticated
async def confirm_import(request: Request, user: Professional) -> Response:
    """The import itself, of the file previewed (checked again: the database may have
    moved since the preview)."""
    upload = await _read(request, user, ("kind", "previewed"))
    if isinstance(upload, Response):
        return upload
    kind = upload.fields.get("kind", "")
    if kind not in IMPORTERS:
        return _page(request, user, 422, error=CHOOSE, form={})
    ctx = audit_context(request)
    await check_admin(user, ACTIONS[kind], ctx)
    try:
        form = {"kind": kind, "reason": _previewed(request, user, kind, upload)}
    except Conflict as error:  # an attempt all the same: audited, as every import is
        await import_audit.record_failed(ACTIONS[kind], ctx, upload.data, error.message, actor=user)
        return _page(request, user, 409, error=error.message, form={"kind": kind})
    return await _run(request, user, form, upload, dry_run=False)


routes = [
    Route("/admin/import", show_import, methods=["GET"]),
    Route("/admin/import/preview", preview_import, methods=["POST"]),
    Route("/admin/import", confirm_import, methods=["POST"]),
]
