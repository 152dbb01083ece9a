"""Full-text search over the posts the caller may see."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from feeds.models import PostKind
from search.service import MAX_LIMIT, MAX_TEXT
from server.endpoints import MAX_ID
from server.schemas.posts import Post

# 0 names nothing (no hits); the bound keeps ids inside PostgreSQL's integers.
Filter = Annotated[int, Meta(ge=0, le=MAX_ID)]
Moment = Annotated[str, Meta(max_length=40, description="YYYY-MM-DD or an ISO date-time")]


class SearchQuery(Struct):
    # Words, or nothing when a filter says what to list ("all concerns since yesterday");
    # the service checks what is searchable after the other parameters, so a bad date is
    # named even with a short query.
    q: Annotated[
        str,
        Meta(
            max_length=MAX_TEXT,
            description=f"up to {MAX_TEXT} characters; may be empty when a filter is given",
        ),
    ] = ""
    child: Filter | None = None
    kind: PostKind | None = None
    author: Filter | None = None
    agency: Filter | None = None
    since: Moment | None = None
    until: Moment | None = None
    order: Literal["newest", "relevance"] = "newest"
    limit: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] = 20
    cursor: Filter | None = None


class HitChild(Struct):
    id: int
    display_name: str


class Hit(Struct):
    post: Post
    child: HitChild
    score: float
    snippet: str
    highlights: list[list[int]]
    url: str


class SearchResults(Struct):
    results: list[Hit]
    count: int
    next_cursor: int | None
