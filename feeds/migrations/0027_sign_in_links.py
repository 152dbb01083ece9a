"""One-time sign-in links (issue 21): an administrator makes one for a person without a
usable password (imported, or who lost theirs); only the token's SHA-256 is stored."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("feeds", "0026_shielded")]

    initial = False

    operations = [
        ops.CreateModel(
            name="SignInLink",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "professional",
                    fields.ForeignKeyField(
                        "feeds.Professional",
                        source_field="professional_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sign_in_links",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                ("created_by_id", fields.IntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "sign_in_link",
                "app": "feeds",
                "pk_attr": "id",
                "table_description": "A one-time sign-in link, stored as its token's SHA-256.",
            },
            bases=["Model"],
        ),
    ]
