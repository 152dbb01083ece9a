"""Single sign-on (issue 21): a provider's (issuer, subject) linked to a professional, and
which sessions began there (their logout ends the provider's session too)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("feeds", "0021_chronology")]

    initial = False

    operations = [
        ops.CreateModel(
            name="SsoIdentity",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("issuer", fields.CharField(max_length=255)),
                ("subject", fields.CharField(max_length=255)),
                (
                    "professional",
                    fields.ForeignKeyField(
                        "feeds.Professional",
                        source_field="professional_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sso_identities",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("email_at_link", fields.CharField(default="", max_length=254)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("last_login_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "sso_identity",
                "app": "feeds",
                "unique_together": (("issuer", "subject"), ("issuer", "professional")),
                "pk_attr": "id",
                "table_description": "A provider's person (issuer and subject) linked to a professional.",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Session",
            name="via_sso",
            field=fields.BooleanField(default=False),
        ),
    ]
