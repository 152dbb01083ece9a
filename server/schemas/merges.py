"""Merging two records of the same child, and an administrator's undo."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from feeds.records.merging import MIN_REASON
from feeds.records.models import MAX_REASON
from feeds.records.values import MAX_REFERENCE
from server.schemas.common import Count, Id

Reason = Annotated[
    str,
    Meta(
        min_length=MIN_REASON,
        max_length=MAX_REASON,
        description="Why (kept with the merge and in both records' audit)",
    ),
]


class MergeCreate(Struct, forbid_unknown_fields=True):
    """The duplicate to fold into this record: by `merged_reference` or `merged_id` (one)."""

    reason: Reason
    merged_reference: Annotated[str, Meta(min_length=1, max_length=MAX_REFERENCE)] | None = None
    merged_id: Id | None = None


class MergeUndo(Struct, forbid_unknown_fields=True):
    reason: Reason


class MergeCounts(Struct):
    """How many of each moved to the record kept (`household`: 1 when a membership did)."""

    posts: Count
    grants: Count
    follows: Count
    child_events: Count
    worry_shares: Count
    notifications: Count
    household: Count


class Merge(Struct):
    id: int
    survivor_id: int
    survivor_reference: str
    merged_id: int
    merged_reference: str
    merged_by_id: int
    reason: str
    at: str
    undo_until: str
    undone_at: str | None
    undone_by_id: int | None
    moved: MergeCounts


class Merges(Struct):
    merges: list[Merge]
