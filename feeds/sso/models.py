"""Tortoise model of single sign-on identities (registered with the `feeds` app)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from feeds.models import Professional


class SsoIdentity(Model):
    """A provider's person (issuer and subject, which never change) linked to a professional.

    Linked on the first sign-in by a verified email; afterwards the subject alone decides,
    so a changed or reused email at the provider cannot move the account.
    """

    id = fields.IntField(primary_key=True)
    issuer = fields.CharField(max_length=255)
    subject = fields.CharField(max_length=255)
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="sso_identities", on_delete=fields.RESTRICT
    )
    professional_id: int
    email_at_link = fields.CharField(max_length=254, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sso_identity"
        unique_together = (("issuer", "subject"), ("issuer", "professional"))
