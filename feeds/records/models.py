"""Tortoise models of children's records beyond the child itself (registered with the
`feeds` app): merges of duplicate records."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from feeds.models import Child, Professional

MAX_REASON = 500


class ChildMerge(Model):
    """One duplicate record (`merged`) folded into another (`survivor`): who, when, why,
    and the ids of what moved, per table, so an administrator can move exactly that back."""

    id = fields.IntField(primary_key=True)
    survivor: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="merges_received", on_delete=fields.RESTRICT
    )
    survivor_id: int
    merged: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="merges_made", on_delete=fields.RESTRICT
    )
    merged_id: int
    merged_by: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="child_merges", on_delete=fields.RESTRICT
    )
    merged_by_id: int
    reason = fields.CharField(max_length=MAX_REASON)
    at = fields.DatetimeField()
    moved: Any = fields.JSONField(default=dict)  # table -> ids (feeds/records/merge_moves.py)
    undone_at = fields.DatetimeField(null=True)
    undone_by_id = fields.IntField(null=True)
    undo_reason = fields.CharField(max_length=MAX_REASON, default="")

    class Meta:
        table = "child_merge"
        indexes = (("at",), ("merged_id",))
