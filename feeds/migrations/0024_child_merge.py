"""Merging duplicate children's records (issue 21): the merged record points at its
survivor, and each merge keeps who, when, why and the ids of what moved (for its undo)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    # Written after 0022_sso, the newest on main when this branch began: renumber on merge.
    dependencies = [("feeds", "0023_my_day")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Child",
            name="merged_into_id",
            field=fields.IntField(null=True),
        ),
        ops.AddIndex(model_name="Child", index=Index(fields=["merged_into_id"])),
        ops.CreateModel(
            name="ChildMerge",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "survivor",
                    fields.ForeignKeyField(
                        "feeds.Child",
                        source_field="survivor_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="merges_received",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "merged",
                    fields.ForeignKeyField(
                        "feeds.Child",
                        source_field="merged_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="merges_made",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "merged_by",
                    fields.ForeignKeyField(
                        "feeds.Professional",
                        source_field="merged_by_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="child_merges",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("reason", fields.CharField(max_length=500)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("moved", fields.JSONField(default=dict)),
                ("undone_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("undone_by_id", fields.IntField(null=True)),
                ("undo_reason", fields.CharField(default="", max_length=500)),
            ],
            options={
                "table": "child_merge",
                "app": "feeds",
                "indexes": [Index(fields=["at"]), Index(fields=["merged_id"])],
                "pk_attr": "id",
                "table_description": "One duplicate record folded into another.",
            },
            bases=["Model"],
        ),
    ]
