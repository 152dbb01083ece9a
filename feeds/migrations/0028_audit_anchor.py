"""Audit archive anchors (issue 20, part 3): `jigsaw audit archive` stores here the signed
seq and hash of the last record of the months it took out of `audit_record`, and
`jigsaw audit verify` starts the chain from the newest one (feeds/audit/anchors.py). The
table is created on both databases; only PostgreSQL archives (partitions)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("feeds", "0027_sign_in_links")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AuditAnchor",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("seq", fields.BigIntField()),
                ("line", fields.TextField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "audit_anchor",
                "app": "feeds",
                "pk_attr": "id",
                "table_description": "Where the audit chain starts after an archive.",
            },
            bases=["Model"],
        ),
    ]
