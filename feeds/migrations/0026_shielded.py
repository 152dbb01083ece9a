"""Shielded children (issue 17 part 3): when and by whom a child was shielded, and why.
A shielded child's name and reference are shown only to direct personal grants."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("feeds", "0025_partitions")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Child",
            name="shielded_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Child",
            name="shielded_by",
            field=fields.ForeignKeyField(
                "feeds.Professional",
                source_field="shielded_by_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="children_shielded",
                on_delete=OnDelete.RESTRICT,
            ),
        ),
        ops.AddField(
            model_name="Child",
            name="shield_reason",
            field=fields.CharField(default="", db_default="", max_length=500),
        ),
    ]
