"""What changed since I last looked (issue 15 item 10): where each professional last
stopped reading each child's feed. Team follows (item 12) use follow.team_id (0003)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


def _fk(model: str, column: str):  # type: ignore[no-untyped-def]
    return fields.ForeignKeyField(
        model,
        source_field=column,
        db_constraint=True,
        to_field="id",
        related_name="visits",
        on_delete=OnDelete.RESTRICT,
    )


class Migration(migrations.Migration):
    dependencies = [("feeds", "0022_sso")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ChildVisit",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("professional", _fk("feeds.Professional", "professional_id")),
                ("child", _fk("feeds.Child", "child_id")),
                ("last_seen_post_id", fields.IntField(default=0)),
                ("seen_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "child_visit",
                "app": "feeds",
                "unique_together": (("professional", "child"),),
                "pk_attr": "id",
                "table_description": "Where a professional last stopped reading a child's feed.",
            },
            bases=["Model"],
        ),
    ]
