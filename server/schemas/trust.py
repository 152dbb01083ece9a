"""Break-glass (emergency access) and the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from feeds.access.breakglass import MAX_REASON, MIN_REASON
from server.endpoints import MAX_ID
from server.schemas.common import Id

AuditDay = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class BreakGlassOpen(Struct):
    reason: Annotated[str, Meta(min_length=MIN_REASON, max_length=MAX_REASON)]


class BreakGlassReview(Struct):
    note: Annotated[str, Meta(max_length=MAX_REASON)] | None = None


class Person(Struct):
    id: int
    name: str


class BreakGlass(Struct, omit_defaults=True):
    id: int
    child_id: int
    professional_id: int
    reason: str
    started_at: str | None
    expires_at: str | None
    reviewed_at: str | None
    review_note: str
    professional: Person | None = None


class BreakGlassList(Struct):
    break_glass: list[BreakGlass]


class BreakGlassQuery(Struct):
    reviewed: Literal["true", "false", "all"] = "all"
    person: Annotated[str, Meta(max_length=254)] | None = None  # email, or part of a name
    child_ref: Annotated[str, Meta(max_length=32)] | None = None


class AuditRecord(Struct):
    id: int
    at: str
    actor_id: int | None
    actor_email: str
    action: str
    child_id: int | None
    outcome: str
    detail: dict[str, Any]


class AuditRecords(Struct):
    records: list[AuditRecord]


class AuditQuery(Struct):
    """Filters of the whole log; since and until are whole UTC days."""

    actor: Annotated[int, Meta(ge=0, le=MAX_ID)] | None = None
    child: Annotated[int, Meta(ge=0, le=MAX_ID)] | None = None
    person: Annotated[str, Meta(max_length=254)] | None = None  # email, or part of a name
    child_ref: Annotated[str, Meta(max_length=32)] | None = None
    action: Annotated[str, Meta(max_length=64)] | None = None
    since: AuditDay | None = None
    until: AuditDay | None = None
    before: Id | None = None
    limit: Annotated[int, Meta(ge=1, le=10_000)] | None = None


class AuditPublicKey(Struct):
    """The Ed25519 key that verifies the signed audit checkpoints: base64 of its 32 raw
    bytes, and its id (the first 16 hex digits of its SHA-256)."""

    algorithm: Literal["Ed25519"]
    public_key: str
    key_id: str
