"""Households (issue 16, part 4): children linked as siblings or as sharing a home."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [("feeds", "0019_shared_worry")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Household",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("created_by_id", fields.IntField(null=True)),
            ],
            options={
                "table": "household",
                "app": "feeds",
                "pk_attr": "id",
                "table_description": "Children linked as siblings or as sharing a home.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="HouseholdMember",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "household",
                    fields.ForeignKeyField(
                        "feeds.Household",
                        source_field="household_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="members",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "child",
                    fields.OneToOneField(
                        "feeds.Child",
                        source_field="child_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="household_membership",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("relationship", fields.CharField(max_length=16)),
                ("linked_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("linked_by_id", fields.IntField(null=True)),
            ],
            options={
                "table": "household_member",
                "app": "feeds",
                "indexes": [Index(fields=["household_id", "id"])],
                "pk_attr": "id",
                "table_description": "One child in one household (a child is in at most one).",
            },
            bases=["Model"],
        ),
    ]
