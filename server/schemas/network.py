"""Requests to join a child's network (feeds/network). Exact lengths and wording are the
domain's (feeds.network.requests.check_*); these types bound the text and shape it."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from feeds.network.requests import MAX_DAYS

Text = Annotated[str, Meta(max_length=1000)]


class AccessRequestCreate(Struct):
    """Ask to join by the child's exact reference; the answer never says if it exists."""

    reference: Text
    role: Text
    reason: Text


class Sent(Struct):
    message: str


class Approval(Struct):
    """How many days the access lasts (default 90)."""

    days: Annotated[int, Meta(ge=1, le=MAX_DAYS)] | None = None


class Decline(Struct):
    reason: Text


class RequestChild(Struct):
    id: int
    display_name: str
    reference: str


class Requester(Struct):
    id: int
    name: str
    job_title: str
    agency: str


class AccessRequest(Struct, kw_only=True):
    """A request as those who decide see it: who asks, about which child."""

    id: int
    role: str
    reason: str
    created_at: str | None
    lapses_at: str | None
    status: str
    child: RequestChild | None
    requester: Requester
    grant_id: int | None = None


class MyRequest(Struct, kw_only=True):
    """A request as its requester sees it: what they typed and the answer, never which
    child it matched."""

    id: int
    role: str
    reason: str
    created_at: str | None
    lapses_at: str | None
    status: str
    reference: str
    decided_at: str | None
    decline_reason: str | None


class AccessRequests(Struct):
    access_requests: list[AccessRequest]


class MyRequests(Struct):
    access_requests: list[MyRequest]
