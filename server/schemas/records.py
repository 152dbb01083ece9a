"""Children's records: create, edit (with history), close and reopen."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from feeds.records import shielding
from feeds.records.values import MAX_NAME, MAX_PLACE, MAX_REFERENCE
from server.schemas.common import Id
from server.schemas.posts import Child

Name = Annotated[str, Meta(max_length=MAX_NAME)]
Reference = Annotated[
    str,
    Meta(
        max_length=MAX_REFERENCE,
        description="Letters, digits, spaces and . / _ - (starting with a letter or digit); "
        "unique whatever its case; surrounding spaces are trimmed",
    ),
]
Day = Annotated[str, Meta(max_length=40, description="YYYY-MM-DD, not in the future")]
Place = Annotated[str, Meta(max_length=MAX_PLACE)]


class ChildCreate(Struct, forbid_unknown_fields=True):
    """A new record; the lead professional gets a grant, and `team_id` one for a team."""

    display_name: Name
    reference: Reference
    date_of_birth: Day
    lead_professional_id: Id
    school: Place | None = None
    area: Place | None = None
    team_id: Id | None = None


class ChildChanges(Struct, forbid_unknown_fields=True):
    """The fields to change (at least one); the old values are kept as a revision."""

    display_name: Name | UnsetType = UNSET
    reference: Reference | UnsetType = UNSET
    date_of_birth: Day | UnsetType = UNSET
    school: Place | UnsetType | None = UNSET
    area: Place | UnsetType | None = UNSET
    lead_professional_id: Id | UnsetType = UNSET


def given(value: Struct) -> dict[str, Any]:
    """The fields the client sent (or that have a value), as feeds/records reads them."""
    return {k: v for k, v in msgspec.structs.asdict(value).items() if v is not UNSET}


class Earlier(Struct):
    """The record's values before a change."""

    display_name: str
    reference: str
    date_of_birth: str | None
    school: str
    area: str
    lead_professional_id: int | None
    status: Literal["open", "closed"]


class Revision(Struct):
    id: int
    change: Literal["edit", "close", "reopen"]
    changed_at: str | None
    changed_by_id: int | None
    before: Earlier


class History(Struct):
    child: Child
    revisions: list[Revision]


class ShieldChange(Struct):
    """Why the child is shielded, or why the shield is lifted (kept in the audit trail)."""

    reason: Annotated[str, Meta(min_length=shielding.MIN_REASON, max_length=shielding.MAX_REASON)]
