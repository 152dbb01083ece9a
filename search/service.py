"""Search as a domain action: access-filtered, re-checked against the database, audited.

The index may lag (the outbox drains every half second) or be wrong; the database is
the truth. So every hit is checked again here (post exists, not removed, its child still
visible to the caller now, filters still hold) and the text shown is built from the
database row. Counts are taken after that check.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from feeds import audit
from feeds.access import identity
from feeds.access.policy import visible_child_ids
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import Invalid
from feeds.models import Agency, Child, Post, PostKind, Professional
from search.base import (
    ORDERS,
    TEXT_MIN,
    SearchHit,
    SearchIndex,
    SearchParams,
    SearchQuery,
    Snippet,
    parse_query,
)
from search.highlight import highlight

MAX_TEXT = 200
MAX_LIMIT = 50
ROUNDS = 3  # engine round-trips to fill a page when the re-check drops hits


class SearchUnavailable(Exception):
    """The search engine cannot answer now (server/ answers 503); posting is unaffected."""

    message = "Search is unavailable just now: try again shortly. Posting still works."


@dataclass(frozen=True)
class SearchResult:
    post: Post  # author.agency and child loaded
    score: float
    snippet: Snippet
    # The post's child as the searcher may see it (a shielded child: its label), set by
    # do_search; show this, never post.child.
    child: Child | None = None


@dataclass(frozen=True)
class SearchResults:
    results: list[SearchResult]
    next_cursor: int | None
    count: int  # results on this page, counted after the access re-check
    # How the searcher reads the posts' text (a shielded child's name withheld); the
    # snippets are already read through it.
    redact: identity.Redactor


def make_index(
    database_url: str,
    meili_url: str | None = None,
    meili_key: str | None = None,
    meili_search_key: str | None = None,
) -> SearchIndex:
    """Meilisearch when a URL is set, else PostgreSQL full-text on PostgreSQL, else FTS5."""
    if meili_url:
        from search.meili import MeiliIndex

        return MeiliIndex(meili_url, meili_key, meili_search_key)
    if database_url.startswith(("postgres", "asyncpg")):
        from search.postgres import PostgresIndex

        return PostgresIndex()
    from search.sqlite import SqliteIndex

    return SqliteIndex()


def has_filter(params: SearchParams) -> bool:
    """Whether anything narrows the search besides its words."""
    narrowing = (params.child, params.kind, params.author, params.agency)
    return any(value is not None for value in narrowing) or bool(params.since or params.until)


def check_text(params: SearchParams) -> str:
    """The words to look for: 2 to 200 characters with a word in them, or none at all when
    a filter says what to list instead."""
    text = params.text.strip()
    if not text and has_filter(params):
        return ""
    if len(text) > MAX_TEXT:
        raise Invalid(f"Search for {TEXT_MIN} to {MAX_TEXT} characters.", field="q")
    if len(text) < TEXT_MIN:
        raise Invalid(
            f"Search for at least {TEXT_MIN} characters, or choose a filter (kind, dates, "
            "child, author, agency) to list posts without words.",
            field="q",
        )
    if parse_query(text).is_empty:
        raise Invalid("Search for at least one word, or choose a filter.", field="q")
    return text


def check_params(params: SearchParams) -> SearchParams:
    """Raise Invalid with a message for anything malformed."""
    text = check_text(params)
    if params.kind is not None and params.kind not in {k.value for k in PostKind}:
        raise Invalid("kind must be one of: " + ", ".join(k.value for k in PostKind), field="kind")
    if params.order not in ORDERS:
        raise Invalid("order must be newest or relevance.", field="order")
    if not 1 <= params.limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    if params.since and params.until and params.since >= params.until:
        raise Invalid("since must be before until.", field="since")
    return replace(params, text=text)


def _still_matches(post: Post, query: SearchQuery) -> bool:
    """The filters, checked on the database row (the index copy may be stale)."""
    checks: list[tuple[object, object]] = [
        (query.kind, str(post.kind)),
        (query.author, post.author_id),
        (query.agency, post.author.agency_id),
    ]
    if any(want is not None and want != got for want, got in checks):
        return False
    return _in_period(post.created_at, query.since, query.until)


def _in_period(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or moment >= since) and (until is None or moment < until)


async def _checked(
    hits: list[SearchHit], query: SearchQuery, redact: identity.Redactor
) -> list[SearchResult]:
    """Hits whose post is still there, visible and matching, in the engine's order; a hit
    on a shielded child the searcher may not identify, or naming one in its text, is
    dropped when the words name that child (finding it would confirm who the child is, or
    that the post names it), and its snippet shows the name withheld."""
    rows = await Post.filter(
        id__in=[hit.post_id for hit in hits], removed_at__isnull=True
    ).select_related("author__agency", "child")  # one query, not four
    # The children are tested here against the set, so the SQL stays one small statement
    # however many children the caller may see (a manager: 2,000).
    children = set(query.children())
    posts = {
        post.id: post for post in rows if post.child_id in children and _still_matches(post, query)
    }
    named = redact.named_by(query.parsed.terms(), query.parsed.prefix)
    return [
        SearchResult(post, hit.score, highlight(redact(post.body), query.parsed))
        for hit in hits
        if (post := posts.get(hit.post_id)) is not None
        and not redact.hides_hit(post.child_id, post.body, named)
    ]


def _next_cursor(query: SearchQuery, hits: list[SearchHit]) -> int:
    if query.order == "newest":
        return hits[-1].post_id
    return (query.cursor or 0) + len(hits)


async def _engine_search(index: SearchIndex, query: SearchQuery) -> list[SearchHit]:
    try:
        return await index.search(query)
    except Exception as error:
        # The embedded backends live in the database, whose failures server/ already maps
        # to 503; an external engine's failures (down, refusing, timing out) are ours.
        if index.name != "meili":
            raise
        raise SearchUnavailable(SearchUnavailable.message) from error


async def _collect(
    index: SearchIndex, query: SearchQuery, redact: identity.Redactor
) -> tuple[list[SearchResult], int | None]:
    """Up to query.limit re-checked results and the cursor for the next page."""
    results: list[SearchResult] = []
    for _ in range(ROUNDS):
        want = query.limit - len(results)
        hits = await _engine_search(index, replace(query, limit=want))
        results += await _checked(hits, query, redact)
        if len(hits) < want:
            return results, None
        query = replace(query, cursor=_next_cursor(query, hits))
        if len(results) >= query.limit:
            break
    return results, query.cursor


async def do_search(
    index: SearchIndex, professional: Professional, params: SearchParams, ctx: AuditContext
) -> SearchResults:
    """Search what this professional may see right now; the search is audited."""
    params = check_params(params)
    allowed = frozenset(await visible_child_ids(professional))
    query = SearchQuery(**vars(params), child_ids=allowed)
    redact = await identity.redactor(professional, query.children())
    results, cursor = await _collect(index, query, redact) if query.children() else ([], None)
    results = await _as_seen(professional, results)
    shielded = sorted({r.post.child_id for r in results if identity.is_shielded(r.post.child)})
    await audit.record(
        AuditAction.SEARCH,
        ctx,
        actor=professional,
        child_id=params.child,  # a search of one child shows in that child's audit
        detail={
            "q": params.text,
            "filters": _filters(params),
            "count": len(results),
            "post_ids": [r.post.id for r in results],
            "child_ids": sorted({r.post.child_id for r in results}),
            **({"shielded": True, "shielded_child_ids": shielded} if shielded else {}),
        },
    )
    return SearchResults(results, cursor, len(results), redact)


async def _as_seen(professional: Professional, results: list[SearchResult]) -> list[SearchResult]:
    shown = await identity.as_seen_by(professional, [r.post.child for r in results])
    return [replace(r, child=child) for r, child in zip(results, shown, strict=True)]


def _filters(params: SearchParams) -> dict[str, object]:
    raw = {
        "child": params.child,
        "kind": params.kind,
        "author": params.author,
        "agency": params.agency,
        "since": params.since.isoformat() if params.since else None,
        "until": params.until.isoformat() if params.until else None,
        "order": params.order,
        "cursor": params.cursor,
    }
    return {key: value for key, value in raw.items() if value is not None}


MAX_CHOICES = 500


@dataclass(frozen=True)
class FilterChoices:
    """What the search page's filters offer: only what the caller may already see."""

    children: list[Child]  # visible, by name
    authors: list[Professional]  # who wrote posts on those children, by name (agency loaded)
    agencies: list[Agency]  # those authors' agencies, by name


async def filter_choices(professional: Professional) -> FilterChoices:
    """The children the caller may see, and the authors and agencies of their posts."""
    visible = await Child.filter(id__in=await visible_child_ids(professional))
    children = await identity.shown_children(professional, visible)  # by the name as seen
    author_ids = (
        await Post.filter(child_id__in=[c.id for c in children], removed_at__isnull=True)
        .distinct()
        .limit(MAX_CHOICES)
        .values_list("author_id", flat=True)
    )
    authors = (
        await Professional.filter(id__in=list(author_ids))
        .order_by("name", "id")
        .prefetch_related("agency")
    )
    agencies = {a.agency.id: a.agency for a in authors}
    return FilterChoices(children, authors, sorted(agencies.values(), key=lambda a: a.name))
