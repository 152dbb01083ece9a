"""Search: GET /api/v1/search (JSON) and GET /search (HTML), and the outbox drainer's
lifespan. Each handler parses, then calls search.service.do_search."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.config import Config
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.access import identity
from feeds.clock import utcnow
from feeds.errors import Invalid
from feeds.models import PostKind, Professional
from feeds.serializers import me_view, post_view
from search.base import SearchIndex, SearchParams
from search.outbox import Drainer
from search.service import (
    FilterChoices,
    SearchResult,
    SearchResults,
    do_search,
    filter_choices,
    make_index,
)
from server.dates import parse_day, parse_moment
from server.endpoints import audit_context, authenticated
from server.routes.pages import render
from server.schemas import search as schema
from server.schemas.codec import build, decode_query, reply
from server.schemas.operation import api
from server.settings import Settings


def _moment(raw: str | None, name: str, end_of_day: bool) -> datetime | None:
    """A date (YYYY-MM-DD, whole day) or an ISO date-time; naive times are UTC."""
    raw = (raw or "").strip()
    if not raw:
        return None
    message = f"{name} must be a date (YYYY-MM-DD) or an ISO date-time, in years 1900-2999."
    if len(raw) == 10:
        day = parse_day(raw, message, name) + timedelta(days=1 if end_of_day else 0)
        return datetime.combine(day, time(), tzinfo=UTC)
    moment = parse_moment(raw, message, name)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_params(request: Request) -> SearchParams:
    """The query string as SearchParams; Invalid names the bad parameter."""
    query = decode_query(request, schema.SearchQuery)
    return SearchParams(
        text=query.q,
        child=query.child,
        kind=query.kind,
        author=query.author,
        agency=query.agency,
        since=_moment(query.since, "since", end_of_day=False),
        until=_moment(query.until, "until", end_of_day=True),
        order=query.order,
        limit=query.limit,
        cursor=query.cursor,
    )


def index_of(request: Request) -> SearchIndex:
    drainer: Drainer = request.app.state.search
    return drainer.index


def result_view(result: SearchResult, redact: identity.Redactor) -> dict[str, Any]:
    # As the searcher may see it (fail safe: a missing one shows no identifier).
    child = result.child if result.child is not None else identity.disguised(result.post.child)
    return {
        "post": post_view(result.post, redact),
        "child": {"id": child.id, "display_name": child.display_name},
        "score": result.score,
        "snippet": result.snippet.text,
        "highlights": [list(span) for span in result.snippet.highlights()],
        # The page of the feed that shows the post, even when it is no longer the newest.
        "url": f"/children/{result.post.child_id}?post={result.post.id}#post-{result.post.id}",
    }


@api(
    schema.SearchResults,
    "Full-text search over the posts the caller may see (audited); 503 with Retry-After "
    "while the search engine is down",
    query=schema.SearchQuery,
)
@authenticated
async def api_search(request: Request, user: Professional) -> Response:
    found = await do_search(index_of(request), user, parse_params(request), audit_context(request))
    results = {
        "results": [result_view(r, found.redact) for r in found.results],
        "count": found.count,
        "next_cursor": found.next_cursor,
    }
    return reply(build(schema.SearchResults, results))


FILTERS = ("child", "kind", "author", "agency", "since", "until")


def choices_view(choices: FilterChoices, form: dict[str, str]) -> dict[str, Any]:
    """The filters' options, and the child a search is scoped to (from a child's page)."""
    children = [{"id": c.id, "name": c.display_name, "ref": c.reference} for c in choices.children]
    scoped = next((c for c in children if str(c["id"]) == form.get("child")), None)
    return {
        "children": children,
        "authors": [{"id": a.id, "name": a.name, "agency": a.agency.name} for a in choices.authors],
        "agencies": [{"id": a.id, "name": a.name} for a in choices.agencies],
        "scoped": scoped,
    }


@authenticated
async def search_page(request: Request, user: Professional) -> Response:
    form = {key: value for key, value in request.query_params.items() if value.strip()}
    context: dict[str, Any] = {
        "user": me_view(user),
        "form": form,
        "kinds": [kind.value for kind in PostKind],
        **choices_view(await filter_choices(user), form),
        "yesterday": (utcnow().date() - timedelta(days=1)).isoformat(),
        "week_ago": (utcnow().date() - timedelta(days=7)).isoformat(),
    }
    if not request.query_params.get("q", "").strip() and not any(f in form for f in FILTERS):
        return render(request, "search.html", **context)  # nothing asked yet: the form
    try:
        found: SearchResults = await do_search(
            index_of(request), user, parse_params(request), audit_context(request)
        )
    except Invalid as error:
        return render(request, "search.html", 422, error=error.message, **context)
    results = [
        {**result_view(r, found.redact), "segments": r.snippet.segments} for r in found.results
    ]
    return render(request, "search.html", results=results, next_cursor=found.next_cursor, **context)


routes = [
    Route("/api/v1/search", api_search, methods=["GET"]),
    Route("/search", search_page, methods=["GET"]),
]


def index_from_env(settings: Settings, environ: dict[str, str] | None = None) -> SearchIndex:
    """The configured backend: JIGSAW_MEILI_URL (+ _KEY, _SEARCH_KEY) or the database's own."""
    config = Config(environ=environ if environ is not None else dict(os.environ))
    return make_index(
        settings.database_url,
        meili_url=config("JIGSAW_MEILI_URL", default="") or None,
        meili_key=config("JIGSAW_MEILI_KEY", default="") or None,
        meili_search_key=config("JIGSAW_MEILI_SEARCH_KEY", default="") or None,
    )


@asynccontextmanager
async def search_lifespan(app: Starlette, settings: Settings) -> AsyncIterator[Drainer]:
    """Prepare the index and run the outbox drainer while the app runs (after Tortoise.init)."""
    drainer = Drainer(index_from_env(settings))
    # A search engine that is down must not stop the app: posting never depends on it,
    # and the drainer keeps trying to prepare the index.
    await drainer.prepare()
    app.state.search = drainer
    drainer.start()
    try:
        yield drainer
    finally:
        await drainer.stop()
