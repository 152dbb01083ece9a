"""What each /api/v1 endpoint declares about itself, for decoding and for the OpenAPI document.

    @api(PostCreated, summary="Post to the child's feed", body=PostCreate, status=201,
         errors={409}, headers=(IDEMPOTENCY_KEY,))
    @authenticated
    async def create_post(request, user): ...

The generator (server/openapi.py) walks the route table and reads `endpoint.operation`;
an /api/v1 route without one is missing from the document, and a test fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

E = TypeVar("E", bound=Callable[..., Any])


@dataclass(frozen=True)
class Header:
    """A request header the endpoint reads (documented as a header parameter)."""

    name: str
    description: str
    max_length: int


@dataclass(frozen=True)
class Operation:
    """One endpoint's contract: what it reads, what it answers, and which errors can occur
    besides those the generator adds from the route (401, 403, 404, 415, 422, 503)."""

    response: Any  # a type, or None; the success body; None when there is none (204)
    summary: str
    status: int = 200
    body: type[Any] | None = None  # the JSON request body
    body_required: bool = True
    query: type[Any] | None = None  # the query string, as a Struct
    headers: tuple[Header, ...] = ()
    errors: frozenset[int] = field(default_factory=frozenset)
    media_type: str = "application/json"  # of the success body
    retry_after: frozenset[int] = field(default_factory=frozenset)  # statuses that send it
    also: frozenset[int] = field(default_factory=frozenset)  # other successes, same body


def api(
    response: Any,
    summary: str,
    *,
    errors: Iterable[int] = (),
    retry_after: Iterable[int] = (),
    also: Iterable[int] = (),
    **options: Any,
) -> Callable[[E], E]:
    """Declare an endpoint's contract (put it above `authenticated` / `public`)."""
    declared = Operation(
        response,
        summary,
        errors=frozenset(errors),
        retry_after=frozenset(retry_after),
        also=frozenset(also),
        **options,
    )

    def declare(endpoint: E) -> E:
        endpoint.operation = declared  # type: ignore[attr-defined]
        return endpoint

    return declare


def operation_of(endpoint: Any) -> Operation | None:
    found: Operation | None = getattr(endpoint, "operation", None)
    return found
