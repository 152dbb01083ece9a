"""The chronology (issue 17): posts marked significant, with action taken and outcome, and
the revisions their edits keep."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [("feeds", "0020_households")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Significance",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("post", fields.OneToOneField("feeds.Post", source_field="post_id", db_constraint=True, to_field="id", related_name="significance", on_delete=OnDelete.RESTRICT)),
                ("child_id", fields.IntField(db_index=True)),
                ("significant", fields.BooleanField(default=True)),
                ("action_taken", fields.CharField(default="", max_length=1000)),
                ("outcome", fields.CharField(default="", max_length=1000)),
                ("changed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("changed_by", fields.ForeignKeyField("feeds.Professional", source_field="changed_by_id", db_constraint=True, to_field="id", related_name="significance_changes", on_delete=OnDelete.RESTRICT)),
            ],
            options={"table": "significance", "app": "feeds", "pk_attr": "id", "table_description": "A post marked significant for the chronology."},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SignificanceRevision",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("significance", fields.ForeignKeyField("feeds.Significance", source_field="significance_id", db_constraint=True, to_field="id", related_name="revisions", on_delete=OnDelete.RESTRICT)),
                ("significant", fields.BooleanField()),
                ("action_taken", fields.CharField(max_length=1000)),
                ("outcome", fields.CharField(max_length=1000)),
                ("changed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("changed_by_id", fields.IntField()),
                ("replaced_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("replaced_by_id", fields.IntField()),
            ],
            options={"table": "significance_revision", "app": "feeds", "indexes": [Index(fields=["significance_id", "id"])], "pk_attr": "id", "table_description": "A significance as it was before one change."},
            bases=["Model"],
        ),
    ]
