"""Hotspots: GET /hotspots (a heat grid drawn server-side) and GET /api/v1/hotspots.
Each handler parses, then calls feeds.velocity.hotspots."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.models import Professional
from feeds.serializers import me_view
from feeds.velocity.hotspots import DIMENSIONS, HotspotRow, Hotspots, read_hotspots
from feeds.velocity.trends import ARROWS
from server.endpoints import audit_context, authenticated
from server.routes.page_render import render
from server.schemas import hotspots as schema
from server.schemas.codec import build, decode_query, reply
from server.schemas.operation import api

CELL, GAP, HEIGHT = 22, 2, 22  # SVG units: one week's cell and the gap between cells
SHADES = 5  # heat-0 (none) .. heat-4 (the grid's busiest week)
LABELS = {
    "team": "Team",
    "agency": "Agency",
    "school": "School",
    "area": "Area",
    "household": "Household",
}


def row_view(row: HotspotRow) -> dict[str, Any]:
    return {
        "label": row.label,
        "children": row.children,
        "flagged": row.flagged,
        "quiet": row.quiet,
        "weeks": row.weeks,
        "worries": row.worries,
        "trend": row.trend,
    }


def hotspots_view(found: Hotspots) -> dict[str, Any]:
    return {
        "by": found.by,
        "week_starts": [day.isoformat() for day in found.week_starts],
        "children": found.children,
        "rows": [row_view(row) for row in found.rows],
    }


def shade(count: int, top: int) -> int:
    """0 for no worries, else 1..SHADES-1 in proportion to the grid's busiest week."""
    if count <= 0 or top <= 0:
        return 0
    return max(1, round(count * (SHADES - 1) / top))


def cells(weeks: list[int], top: int) -> list[dict[str, int]]:
    return [{"x": i * (CELL + GAP), "n": n, "shade": shade(n, top)} for i, n in enumerate(weeks)]


@api(
    schema.Hotspots,
    "Managers: hunches and concerns per week over the last 12 weeks, by team, agency, "
    "school or area, over the children they may see (audited)",
    query=schema.HotspotsQuery,
    errors={403},
)
@authenticated
async def api_hotspots(request: Request, user: Professional) -> Response:
    query = decode_query(request, schema.HotspotsQuery)
    found = await read_hotspots(user, query.by, audit_context(request))
    return reply(build(schema.Hotspots, hotspots_view(found)))


@authenticated
async def hotspots_page(request: Request, user: Professional) -> Response:
    by = request.query_params.get("by", "team")
    found = await read_hotspots(user, by, audit_context(request))
    top = max((max(row.weeks, default=0) for row in found.rows), default=0)
    rows = [{**row_view(row), "cells": cells(row.weeks, top)} for row in found.rows]
    return render(
        request,
        "hotspots.html",
        user=me_view(user),
        hotspots=hotspots_view(found),
        rows=rows,
        top=top,
        by=found.by,
        dimensions=[(d, LABELS[d]) for d in DIMENSIONS],
        arrows=ARROWS,
        grid={"width": len(found.week_starts) * (CELL + GAP) - GAP, "cell": CELL, "h": HEIGHT},
    )


routes = [
    Route("/hotspots", hotspots_page, methods=["GET"]),
    Route("/api/v1/hotspots", api_hotspots, methods=["GET"]),
]
