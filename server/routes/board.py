"""The velocity board: GET /board (HTML), GET /api/v1/board and
GET /api/v1/children/{child_id}/velocity, and the lifespan of the velocity watcher.
Each handler parses, then calls feeds.velocity.board."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from feeds import events
from feeds.clock import utcnow
from feeds.errors import Invalid
from feeds.models import Professional
from feeds.serializers import iso, me_view
from feeds.velocity import board
from feeds.velocity.board import Board, BoardRow, ChildChange, Period
from feeds.velocity.detector import Assessment, PeriodComparison, PeriodStats
from feeds.velocity.trends import ARROWS, Trend, describe
from feeds.velocity.verdicts import VelocityWatcher
from server.dates import query_day
from server.endpoints import audit_context, authenticated, path_id, query_int
from server.schemas import board as schema
from server.schemas.codec import build, decode_query, reply
from server.schemas.operation import api

DEFAULT_DAYS = 28
PERIOD_PARAMS = ("from", "to", "compare_from", "compare_to")
SPARK_WIDTH, SPARK_HEIGHT, BAR = 112, 24, 4


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """Like the other pages' render (kept local so this module stands on its own)."""
    templates: Jinja2Templates = request.app.state.templates
    state = request.scope.get("state", {})
    context.setdefault("unread", state.get("unread"))
    context["csrf_token"] = request.scope["csrftoken"]()
    return templates.TemplateResponse(request, name, context, status_code=status)


def _period(first: date, last: date) -> Period:
    """Whole UTC days first..last inclusive, as the half-open [first, last + 1 day)."""
    start = datetime.combine(first, time(), tzinfo=UTC)
    return Period(start, datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC))


def parse_periods(request: Request, today: date) -> tuple[Period, Period]:
    """(A, B): B is from..to (default the last 28 days), A is compare_from..compare_to
    (default the same number of days just before B). Dates are inclusive UTC days."""
    try:
        return _periods(request, today)
    except OverflowError:  # e.g. the day before 0001-01-01
        raise Invalid("Those dates are out of range.", field="from") from None


def _periods(request: Request, today: date) -> tuple[Period, Period]:
    to = query_day(request, "to") or today
    first = query_day(request, "from") or to - timedelta(days=DEFAULT_DAYS - 1)
    if first > to:
        raise Invalid("from is after to.", field="from")
    compare_to = query_day(request, "compare_to") or first - timedelta(days=1)
    compare_from = query_day(request, "compare_from") or compare_to - (to - first)
    if compare_from > compare_to:
        raise Invalid("compare_from is after compare_to.", field="compare_from")
    return _period(compare_from, compare_to), _period(first, to)


def assessment_view(a: Assessment) -> dict[str, Any]:
    return {
        "score": round(a.score, 2),
        "flagged": a.flagged,
        "reasons": a.reasons,
        "sparkline": a.sparkline,
        "posts_72h": a.recent_posts,
        "usual_72h": round(a.usual_posts, 2),
        "agencies": a.agencies,
        "new_agencies": a.new_agencies,
        "concerns_7d": a.concerns,
    }


def row_view(row: BoardRow) -> dict[str, Any]:
    child = row.child
    return {
        "child": {"id": child.id, "display_name": child.display_name, "ref": child.reference},
        **assessment_view(row.assessment),
        "posts_7d": row.posts_7d,
        "posts_28d": row.posts_28d,
        "last_post_at": iso(row.last_post_at),
        "shared_worry": row.shared_worry,
    }


def stats_view(stats: PeriodStats) -> dict[str, Any]:
    return {
        "posts_by_kind": stats.posts_by_kind,
        "total_posts": stats.total_posts,
        "distinct_authors": stats.distinct_authors,
        "distinct_agencies": stats.distinct_agencies,
    }


def comparison_view(comparison: PeriodComparison, a: Period, b: Period) -> dict[str, Any]:
    def bounds(period: Period) -> dict[str, str]:
        return {"from": period.start.date().isoformat(), "to": _last_day(period).isoformat()}

    return {
        "a": {**bounds(a), **stats_view(comparison.a)},
        "b": {**bounds(b), **stats_view(comparison.b)},
        "change": stats_view(comparison.change),
        "trend": trend_view(describe(comparison)),
    }


def trend_view(trend: Trend) -> dict[str, Any]:
    return {
        "attention": trend.attention,
        "worry": trend.worry,
        "attention_change": trend.attention_change,
        "worry_change": trend.worry_change,
        "worries_earlier": trend.worries_earlier,
        "worries_later": trend.worries_later,
        "positives_later": trend.positives_later,
        "words": trend.words,
    }


def change_view(change: ChildChange) -> dict[str, Any]:
    child, comparison = change.child, change.comparison
    return {
        "child": {"id": child.id, "display_name": child.display_name, "ref": child.reference},
        "a": stats_view(comparison.a),
        "b": stats_view(comparison.b),
        "change": stats_view(comparison.change),
        "trend": trend_view(change.trend),
    }


def _last_day(period: Period) -> date:
    return (period.end - timedelta(days=1)).date()


def board_view(found: Board, rows: bool = True) -> dict[str, Any]:
    """The board's counts and (with `rows`) every row; the API shows its own page of rows."""
    return {
        "at": iso(found.at),
        "children": found.children,
        "flagged": found.flagged,
        "rows": [row_view(row) for row in found.rows] if rows else [],
    }


def in_households(
    rows: list[BoardRow], grouped: bool
) -> tuple[list[list[BoardRow]], dict[int, int]]:
    """The rows in display groups (one household together when `grouped`, else one row
    each) and each child's household id."""
    household_of = {r.child.id: r.household_id for r in rows if r.household_id is not None}
    if not grouped:
        return [[row] for row in rows], household_of
    return board.group_by_household(rows, household_of), household_of


def wants_comparison(request: Request) -> bool:
    return any(request.query_params.get(name) for name in PERIOD_PARAMS)


@api(
    schema.Board,
    "Managers: visible children ranked by attention velocity (audited); `comparison` "
    "only when a period parameter is given",
    query=schema.BoardQuery,
    errors={403},
)
@authenticated
async def api_board(request: Request, user: Professional) -> Response:
    query = decode_query(request, schema.BoardQuery)
    periods = parse_periods(request, utcnow().date()) if wants_comparison(request) else None
    found = await board.read_board(
        user,
        audit_context(request),
        status=query.status,
        team=query.team,
        periods=periods,
        order=query.sort,
        recent=request.app.state.comparisons,
    )
    groups, household_of = in_households(found.rows, query.group == "household")
    shown, more = board.first_rows(groups, query.limit)
    body = board_view(found, rows=False)
    body["rows"] = [
        {**row_view(row), "household_id": household_of.get(row.child.id)}
        for group in shown
        for row in group
    ]
    body["more"] = more
    if periods is not None and found.comparison is not None:
        body["comparison"] = comparison_view(found.comparison, *periods)
        body["changes"] = [change_view(change) for change in found.changes[: query.limit]]
    return reply(build(schema.Board, body))


@api(
    schema.ChildVelocity,
    "A child's velocity and a comparison of two periods (audited)",
    query=schema.Periods,
    errors={403},
)
@authenticated
async def api_child_velocity(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    decode_query(request, schema.Periods)
    a, b = parse_periods(request, utcnow().date())
    found = await board.read_child_velocity(user, child_id, a, b, audit_context(request))
    child = found.child
    velocity = {
        "child": {"id": child.id, "display_name": child.display_name, "ref": child.reference},
        "velocity": assessment_view(found.assessment),
        "comparison": comparison_view(found.comparison, a, b),
    }
    return reply(build(schema.ChildVelocity, velocity))


def sparkline_bars(counts: list[int], top: int) -> list[dict[str, int]]:
    """SVG rectangles for daily counts (drawn server-side), scaled so that `top` posts
    fill the height: the board passes its busiest day, so every row shares one scale and
    a quiet child looks quiet beside a busy one."""
    top = max(top, 1)
    bars = []
    for i, count in enumerate(counts):
        height = round(count * (SPARK_HEIGHT - 2) / top) + (1 if count else 0)
        bars.append({"x": i * BAR, "y": SPARK_HEIGHT - height, "h": height, "n": count})
    return bars


def shared_top(rows: list[BoardRow]) -> int:
    """The busiest single day on the board: the one scale every sparkline is drawn to."""
    return max((max(r.assessment.sparkline, default=0) for r in rows), default=0)


def page_row(row: BoardRow, top: int) -> dict[str, Any]:
    """A row as the page shows it: the API's, its sparkline drawn to the board's shared
    scale `top`, and "gone quiet"."""
    return {
        **row_view(row),
        "bars": sparkline_bars(row.assessment.sparkline, top),
        "gone_quiet": row.quiet.flagged,
        "quiet_reasons": list(row.quiet.reasons),
    }


def _page_periods(request: Request) -> tuple[tuple[Period, Period] | None, int | None, str]:
    """(periods, child) to compare, or the message saying why they cannot be."""
    now = utcnow()
    try:
        periods = parse_periods(request, now.date())
        board.check_periods(*periods, now)
        return periods, query_int(request, "child", None), ""
    except Invalid as error:
        return None, None, error.message


@authenticated
async def board_page(request: Request, user: Professional) -> Response:
    status = request.query_params.get("status", "all")
    team = request.query_params.get("team") or None
    periods, child_id, error = _page_periods(request)
    found = await board.read_board(
        user,
        audit_context(request),
        status=status,
        team=team,
        periods=periods,
        child_id=child_id,
        order=request.query_params.get("sort", "attention"),
        recent=request.app.state.comparisons,
    )
    teams = [{"id": t.id, "name": t.name} for t in await board.manager_teams(user)]
    top = shared_top(found.rows)
    comparison = None
    if periods is not None and found.comparison is not None:
        comparison = comparison_view(found.comparison, *periods)
    grouped = request.query_params.get("group") == "household"
    groups, _ = in_households(found.rows, grouped)
    limit = min(max(query_int(request, "shown", board.PAGE_ROWS) or 1, 1), board.MAX_ROWS)
    groups, more = board.first_rows(groups, limit)
    return render(
        request,
        "board.html",
        422 if error else 200,
        user=me_view(user),
        board=board_view(found, rows=False),
        rows=[
            {**page_row(row, top), "household_size": len(group) if i == 0 and len(group) > 1 else 0}
            for group in groups
            for i, row in enumerate(group)
        ],
        spark_top=top,
        more=more,
        more_link="/board?" + urlencode({**request.query_params, "shown": limit + board.PAGE_ROWS}),
        board_group="household" if grouped else "",
        gone_quiet=found.gone_quiet,
        board_status=status,
        teams=teams,
        board_team=team or "",
        form=dict(request.query_params),
        comparison=comparison,
        changes=[change_view(change) for change in found.changes[:limit]],
        arrows=ARROWS,
        board_sort=request.query_params.get("sort", "attention"),
        sort_links={
            order: "/board?" + urlencode({**request.query_params, "sort": order})
            for order in board.CHANGE_ORDERS
        },
        compare_error=error,
        last_event_id=await events.latest_event_id(),
        spark={"width": SPARK_WIDTH, "height": SPARK_HEIGHT, "bar": BAR - 1},
    )


routes = [
    Route("/board", board_page, methods=["GET"]),
    Route("/api/v1/board", api_board, methods=["GET"]),
    Route("/api/v1/children/{child_id}/velocity", api_child_velocity, methods=["GET"]),
]


@asynccontextmanager
async def velocity_lifespan(app: Starlette) -> AsyncIterator[VelocityWatcher]:
    """Run the velocity watcher while the app runs (after Tortoise is initialised)."""
    watcher = VelocityWatcher()
    app.state.velocity = watcher
    await watcher.start()
    try:
        yield watcher
    finally:
        await watcher.stop()
