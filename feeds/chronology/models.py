"""Tortoise models of the chronology (registered with the `feeds` app)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from feeds.models import Post, Professional

MAX_NOTE = 1000  # "action taken" and "outcome for the child", each


class Significance(Model):
    """A post marked significant for the chronology, with what was done and what came of
    it for the child. One per post; unmarking keeps the row (significant = False)."""

    id = fields.IntField(primary_key=True)
    post: fields.OneToOneRelation[Post] = fields.OneToOneField(
        "feeds.Post", related_name="significance", on_delete=fields.RESTRICT
    )
    post_id: int
    child_id = fields.IntField(db_index=True)  # the post's child: sources read by child
    significant = fields.BooleanField(default=True)
    action_taken = fields.CharField(max_length=MAX_NOTE, default="")
    outcome = fields.CharField(max_length=MAX_NOTE, default="")
    changed_at = fields.DatetimeField()
    changed_by: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="significance_changes", on_delete=fields.RESTRICT
    )
    changed_by_id: int

    class Meta:
        table = "significance"


class SignificanceRevision(Model):
    """A significance as it was before one change: who changed it, when, and the old values
    (the current values stay on Significance)."""

    id = fields.IntField(primary_key=True)
    significance: fields.ForeignKeyRelation[Significance] = fields.ForeignKeyField(
        "feeds.Significance", related_name="revisions", on_delete=fields.RESTRICT
    )
    significance_id: int
    significant = fields.BooleanField()
    action_taken = fields.CharField(max_length=MAX_NOTE)
    outcome = fields.CharField(max_length=MAX_NOTE)
    changed_at = fields.DatetimeField()  # when the old values were set
    changed_by_id = fields.IntField()  # who set them
    replaced_at = fields.DatetimeField()
    replaced_by_id = fields.IntField()

    class Meta:
        table = "significance_revision"
        indexes = (("significance_id", "id"),)
