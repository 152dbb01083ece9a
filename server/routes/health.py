"""Health check for load balancers and operators, and the OpenAPI document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.connection import get_connection

from feeds.replica import Router
from search import outbox
from search.outbox import Drainer
from server.endpoints import public, settings_of
from server.openapi import openapi_document
from server.replica_reads import router_of
from server.schemas.codec import reply
from server.schemas.common import OpenAPIDocument
from server.schemas.operation import api


@public
async def healthz(request: Request) -> Response:
    """503 when the database is unreachable; "degraded" (still 200: posting and reading
    work) when the search engine is, with how many posts wait in the outbox."""
    try:
        await get_connection("default").execute_query("SELECT 1")
        search_ok = await _search_ok(request)
        waiting = await outbox.pending()
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    body: dict[str, object] = {
        "status": "ok" if search_ok else "degraded",
        "database": "ok",
        "search": "ok" if search_ok else "unavailable",
        "search_pending": waiting,
    }
    if (router := router_of(request)) is not None:
        body["replica"] = await replica_health(router)
    return JSONResponse(body)


async def replica_health(router: Router) -> dict[str, object]:
    """The standby as the heavy reads see it: in use, behind (reads on the primary), down."""
    await router.refresh()
    report = router.report()
    stale = report.staleness
    return {
        "state": report.state,
        "staleness_seconds": None if stale is None else round(stale, 3),
        "max_lag_seconds": report.max_lag,
        "reads": report.reads,
        "max_served_staleness_seconds": round(report.max_served_staleness, 3),
    }


async def _search_ok(request: Request) -> bool:
    drainer: Drainer | None = getattr(request.app.state, "search", None)
    if drainer is None or not drainer.ready or not drainer.running:
        return False
    return not await outbox.failing()


@api(OpenAPIDocument, "This document (OpenAPI 3.1), generated from the routes and types")
@public
async def openapi(request: Request) -> Response:
    state = request.app.state
    if not hasattr(state, "openapi"):
        state.openapi = openapi_document(request.app.routes, settings_of(request))
    return reply(state.openapi)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/api/v1/openapi.json", openapi, methods=["GET"]),
]
