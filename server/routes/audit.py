"""The audit log people can read: per child (lead, managers), the whole log with
filters and CSV export (administrators)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds import lookup
from feeds.access import identity
from feeds.audit import keys, reading
from feeds.audit.reading import AuditFilter, record_view
from feeds.audit.sealer import Sealer
from feeds.errors import Invalid
from feeds.models import AuditRecord, Professional
from feeds.serializers import me_view
from server.dates import parse_day
from server.endpoints import audit_context, authenticated, path_id
from server.routes.page_render import render
from server.schemas import trust as schema
from server.schemas.codec import build, decode_query, reply
from server.schemas.operation import api
from server.settings import Settings, SettingsError

log = logging.getLogger("jigsaw.audit")


def _day(raw: str | None, name: str, next_day: bool = False) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    day = parse_day(raw, f"{name} must be a date written YYYY-MM-DD.", name)
    return datetime.combine(day + timedelta(days=int(next_day)), time(), tzinfo=UTC)


def parse_filter(request: Request, default_limit: int = 100) -> AuditFilter:
    query = decode_query(request, schema.AuditQuery)
    return AuditFilter(
        actor=query.actor,
        child=query.child,
        person=(query.person or "").strip() or None,
        child_ref=(query.child_ref or "").strip() or None,
        action=(query.action or "").strip() or None,
        since=_day(query.since, "since"),
        until=_day(query.until, "until", next_day=True),
        before=query.before,
        limit=query.limit or default_limit,
    )


async def _records(user: Professional, records: list[AuditRecord]) -> Response:
    redact = await identity.reasons_redactor(user)
    views = [record_view(r, redact) for r in records]
    return reply(build(schema.AuditRecords, {"records": views}))


@api(
    schema.AuditRecords,
    "Lead professional and managers: who did what to this child, newest first (audited)",
    errors={403},
)
@authenticated
async def api_child_audit(request: Request, user: Professional) -> Response:
    records = await reading.do_read_child_audit(
        user, path_id(request, "child_id"), audit_context(request)
    )
    return await _records(user, records)


@api(
    schema.AuditRecords,
    "Administrators: the whole audit log, filtered, newest first (audited)",
    query=schema.AuditQuery,
    errors={403},
)
@authenticated
async def api_audit(request: Request, user: Professional) -> Response:
    records = await reading.do_search_audit(user, parse_filter(request), audit_context(request))
    return await _records(user, records)


@api(
    str,
    "Administrators: the filtered audit log as CSV (audited)",
    query=schema.AuditQuery,
    errors={403},
    media_type="text/csv",
)
@authenticated
async def api_audit_csv(request: Request, user: Professional) -> Response:
    records = await reading.do_search_audit(
        user, parse_filter(request, 10_000), audit_context(request)
    )
    headers = {"content-disposition": 'attachment; filename="jigsaw-audit.csv"'}
    redact = await identity.reasons_redactor(user)
    return Response(reading.as_csv(records, redact), media_type="text/csv", headers=headers)


@authenticated
async def child_audit_page(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    records = await reading.do_read_child_audit(user, child_id, audit_context(request))
    redact = await identity.reasons_redactor(user)
    views = [record_view(r, redact) for r in records]
    return render(request, "audit.html", user=me_view(user), records=views, child_id=child_id)


@authenticated
async def admin_audit_page(request: Request, user: Professional) -> Response:
    form = dict(request.query_params)
    context: dict[str, Any] = {"user": me_view(user), "form": form, "admin": True}
    try:
        records = await reading.do_search_audit(user, parse_filter(request), audit_context(request))
    except Invalid as error:  # a name that matches nobody: say so beside the filters
        return render(request, "audit.html", 422, records=[], error=error.message, **context)
    references = await lookup.references_of({r.child_id for r in records if r.child_id})
    redact = await identity.reasons_redactor(user)
    views = [
        {**record_view(r, redact), "child_reference": references.get(r.child_id or 0)}
        for r in records
    ]
    return render(request, "audit.html", records=views, **context)


@api(schema.AuditPublicKey, "The key that verifies the signed audit checkpoints")
@authenticated
async def api_audit_public_key(request: Request, user: Professional) -> Response:
    """The key that verifies the signed audit checkpoints (it is public by design)."""
    public = request.app.state.audit_sealer.key.public_key()
    return reply(
        schema.AuditPublicKey(
            algorithm="Ed25519",
            public_key=keys.public_key_text(public),
            key_id=keys.key_id(public),
        )
    )


def _signing_key(settings: Settings) -> Ed25519PrivateKey:
    source = str(settings.audit_signing_key or "")
    if not source.strip() and not settings.demo:
        log.warning(
            "JIGSAW_AUDIT_SIGNING_KEY is not set: audit checkpoints are signed with a key "
            "generated into %s; keep the key apart from the database (docs/trust.md).",
            settings.data_dir,
        )
    try:
        return keys.signing_key(source, settings.data_dir)
    except (Invalid, ValueError) as error:
        raise SettingsError(f"JIGSAW_AUDIT_SIGNING_KEY: {error}") from None


def _echo_checkpoints() -> None:
    """Checkpoints are echoed to the log as a copy kept apart from the checkpoint file.
    When the deployment has configured no logging, print them to stderr beside uvicorn's
    own lines rather than drop them."""
    echo = logging.getLogger("jigsaw.audit.checkpoint")
    if not logging.getLogger().handlers and not echo.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        echo.addHandler(handler)
        echo.setLevel(logging.INFO)


@asynccontextmanager
async def sealer_lifespan(app: Starlette, settings: Settings) -> AsyncIterator[Sealer]:
    """Run this worker's audit sealer while the app runs (only the elected one seals)."""
    sealer = Sealer(_signing_key(settings), settings.audit_checkpoint_path)
    _echo_checkpoints()
    app.state.audit_sealer = sealer
    sealer.loop.start()
    try:
        yield sealer
    finally:
        await sealer.stop()


routes = [
    Route("/api/v1/audit/public-key", api_audit_public_key, methods=["GET"]),
    Route("/api/v1/children/{child_id}/audit", api_child_audit, methods=["GET"]),
    Route("/api/v1/audit", api_audit, methods=["GET"]),
    Route("/api/v1/audit.csv", api_audit_csv, methods=["GET"]),
    Route("/children/{child_id}/audit", child_audit_page, methods=["GET"]),
    Route("/admin/audit", admin_audit_page, methods=["GET"]),
]
