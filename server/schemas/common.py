"""Types every part of the API shares: ids, paging, the error body."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct

from feeds.feed.reading import MAX_PAGE
from server.endpoints import MAX_ID

Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
Count = Annotated[int, Meta(ge=0)]


class ErrorDetail(Struct):
    code: str
    message: str
    field: str | None = None


class Error(Struct):
    """Every 4xx and 5xx answer of the API; sign-in adds flags (`mfa_required`, ...)."""

    error: ErrorDetail


class Page(Struct):
    """?before=<post id>&limit=: newest first, older pages by the `next_before` given."""

    before: Id | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE)] = 20


class Empty(Struct):
    """A request body with nothing in it that matters."""


# The OpenAPI document itself: an object whose schema is OpenAPI's own.
OpenAPIDocument = Annotated[dict[str, Any], Meta(title="OpenAPIDocument")]
