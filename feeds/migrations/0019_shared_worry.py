"""Shared worry (issue 16 part 5): "I share this worry" on a post, and the episodes that
prompt the lead and managers once each."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


def _fk(model: str, column: str, related: str):  # type: ignore[no-untyped-def]
    return fields.ForeignKeyField(
        model,
        source_field=column,
        db_constraint=True,
        to_field="id",
        related_name=related,
        on_delete=OnDelete.RESTRICT,
    )


class Migration(migrations.Migration):
    dependencies = [("feeds", "0018_work_contact")]

    initial = False

    operations = [
        ops.CreateModel(
            name="WorryShare",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("post", _fk("feeds.Post", "post_id", "worry_shares")),
                ("professional", _fk("feeds.Professional", "professional_id", "worry_shares")),
                ("child_id", fields.IntField()),
                ("note", fields.CharField(default="", max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "worry_share",
                "app": "feeds",
                "unique_together": (("post", "professional"),),
                "indexes": [Index(fields=["child_id", "created_at"])],
                "pk_attr": "id",
                "table_description": "A professional sharing the worry of a hunch or concern.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WorryEpisode",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("child", _fk("feeds.Child", "child_id", "worry_episodes")),
                ("opened_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("holds_until", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("closed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("professionals", fields.IntField()),
                ("agencies", fields.IntField()),
            ],
            options={
                "table": "worry_episode",
                "app": "feeds",
                "indexes": [Index(fields=["child_id", "closed_at"])],
                "pk_attr": "id",
                "table_description": "A shared-worry episode about a child: one prompt each.",
            },
            bases=["Model"],
        ),
    ]
