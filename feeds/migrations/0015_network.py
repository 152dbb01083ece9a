"""The network around a child: requests to join (issue 16) and system entries in the feed."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# Requests name a child by its reference, matched exactly but case-insensitively: the
# unique index on lower(reference) of 0014_child_records serves the lookup.


# Agencies already around a child arrive quietly, dated when they first came (frozen copy
# of feeds/network/involvement.py BACKFILL_SQL).
BACKFILL = (
    "INSERT INTO child_event (child_id, kind, agency_id, actor_id, created_at) "
    "SELECT child_id, 'agency_involved', agency_id, NULL, MIN(t) FROM ("
    'SELECT g.child_id, p.agency_id, g.created_at AS t FROM "grant" g '
    "JOIN professional p ON p.id = g.professional_id "
    'UNION ALL SELECT g.child_id, t.agency_id, g.created_at FROM "grant" g '
    "JOIN team t ON t.id = g.team_id "
    "UNION ALL SELECT po.child_id, p.agency_id, po.created_at FROM post po "
    "JOIN professional p ON p.id = po.author_id"
    ") x WHERE 1 = 1 GROUP BY child_id, agency_id ON CONFLICT DO NOTHING"
)


async def index_and_backfill(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await schema_editor.client.execute_script(BACKFILL)


def _fk(model: str, column: str, related: str, null: bool = False):  # type: ignore[no-untyped-def]
    return fields.ForeignKeyField(
        model,
        source_field=column,
        null=null,
        db_constraint=True,
        to_field="id",
        related_name=related,
        on_delete=OnDelete.RESTRICT,
    )


class Migration(migrations.Migration):
    dependencies = [("feeds", "0014_child_records")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AccessRequest",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("requester", _fk("feeds.Professional", "requester_id", "access_requests")),
                ("child", _fk("feeds.Child", "child_id", "access_requests", null=True)),
                ("reference", fields.CharField(max_length=32)),
                ("role", fields.CharField(max_length=100)),
                ("reason", fields.CharField(max_length=500)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("status", fields.CharField(default="open", max_length=16)),
                ("decided_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("decided_by", _fk("feeds.Professional", "decided_by_id", "access_decisions", null=True)),
                ("decline_reason", fields.CharField(default="", max_length=500)),
                ("grant_id", fields.IntField(null=True)),
            ],
            options={
                "table": "access_request",
                "app": "feeds",
                "indexes": [
                    Index(fields=["requester_id", "created_at"]),
                    Index(fields=["child_id", "status"]),
                ],
                "pk_attr": "id",
                "table_description": "A professional asking to join a child's network.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ChildEvent",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("child", _fk("feeds.Child", "child_id", "system_entries")),
                ("kind", fields.CharField(max_length=32)),
                ("agency", _fk("feeds.Agency", "agency_id", "child_events", null=True)),
                ("actor_id", fields.IntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "child_event",
                "app": "feeds",
                "unique_together": (("child", "kind", "agency"),),
                "pk_attr": "id",
                "table_description": "A system entry in a child's feed.",
            },
            bases=["Model"],
        ),
        ops.RunPython(index_and_backfill),
    ]
