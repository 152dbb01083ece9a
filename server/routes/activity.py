"""A child's activity chart and flag notice: drawn on the child page, and served alone as
a fragment (GET /children/{id}/activity) that the page reads again when a post lands or
the child's verdict flips, through the tab's one websocket (activity.js)."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.clock import utcnow
from feeds.models import PostKind, Professional
from feeds.velocity.activity import Activity, Flag, read_activity
from feeds.velocity.tallies import Counts
from feeds.velocity.trends import ARROWS
from server.endpoints import audit_context, authenticated, path_id
from server.routes.page_render import render

HEIGHT, SLOT = 56, 10  # SVG units: chart height, one day's slot
WEEK = 7
KINDS = [kind.value for kind in PostKind]


def _bars(days: list[tuple[date, Counts]], top: int) -> list[dict[str, Any]]:
    """Stacked bars by kind, one stack per day, scaled to the busiest day."""
    bars = []
    for i, (day, kinds) in enumerate(days):
        y = float(HEIGHT)
        for kind in KINDS:
            count = kinds.get(kind, 0)
            if not count:
                continue
            height = count * (HEIGHT - 2) / top
            y -= height
            bars.append(
                {
                    "x": i * SLOT,
                    "y": round(y, 1),
                    "h": round(height, 1),
                    "kind": kind,
                    "title": f"{day:%a %-d %b}: {count} {kind}",
                }
            )
    return bars


def _table(days: list[tuple[date, Counts]]) -> list[dict[str, Any]]:
    """The days with posts, newest first, as rows of the text alternative."""
    rows = []
    for day, kinds in reversed(days):
        total = sum(kinds.values())
        if total:
            counts = [kinds.get(kind, 0) for kind in KINDS]
            label = f"{day:%a %-d %b}"
            rows.append({"day": day.isoformat(), "label": label, "counts": counts, "total": total})
    return rows


def _weeks(days: list[tuple[date, Counts]]) -> list[dict[str, Any]]:
    """Date axis: a labelled tick at the start of each week, the last ending today."""
    return [{"x": i * SLOT, "label": f"{days[i][0]:%-d %b}"} for i in range(0, len(days), WEEK)]


def timeline_view(days: list[tuple[date, Counts]]) -> dict[str, Any]:
    """Everything the chart shows, with a legend, a date axis and a table of the same
    numbers (readable on a touch screen and by a screen reader), and a one-line summary."""
    top = max((sum(kinds.values()) for _, kinds in days), default=0) or 1
    totals = {kind: sum(kinds.get(kind, 0) for _, kinds in days) for kind in KINDS}
    said = ", ".join(f"{n} {kind}" for kind, n in totals.items() if n) or "no posts"
    busiest = max(days, key=lambda d: sum(d[1].values()), default=None)
    return {
        "bars": _bars(days, top),
        "width": len(days) * SLOT,
        "height": HEIGHT,
        "bar": SLOT - 2,
        "weeks": _weeks(days),
        "legend": [{"kind": kind, "count": totals[kind]} for kind in KINDS],
        "table": _table(days),
        "kinds": KINDS,
        "top": top if busiest and sum(busiest[1].values()) else 0,
        "busiest": f"{busiest[0]:%a %-d %b}" if busiest and sum(busiest[1].values()) else "",
        "days": len(days),
        "first": days[0][0].isoformat() if days else "",
        "summary": f"Last {len(days)} days: {said}.",
    }


def flag_view(flag: Flag | None) -> dict[str, Any] | None:
    if flag is None:
        return None
    since = flag.since.date().isoformat() if flag.since else ""
    return {"reasons": flag.reasons, "since": since}


def activity_context(activity: Activity) -> dict[str, Any]:
    """What the child page and the fragment need to draw the chart and the notice."""
    return {
        "timeline": timeline_view(activity.days),
        "flag": flag_view(activity.flag),
        "usual": activity.usual,
        "trend": activity.trend,
        "arrows": ARROWS,
    }


@authenticated
async def activity_fragment(request: Request, user: Professional) -> Response:
    """The chart and the flag notice alone, for a page to swap in."""
    today = utcnow().date()
    found = await read_activity(user, path_id(request, "child_id"), today, audit_context(request))
    return render(request, "activity_fragment.html", **activity_context(found))


routes = [Route("/children/{child_id}/activity", activity_fragment, methods=["GET"])]
