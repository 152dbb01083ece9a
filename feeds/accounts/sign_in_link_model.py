"""Tortoise model of one-time sign-in links (registered with the `feeds` app)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from feeds.models import Professional


class SignInLink(Model):
    """A one-time link an administrator passes on, to set a first (or new) password.

    Only the SHA-256 of its random token is stored, as for sessions and access tokens.
    It works once, until `expires_at`, while neither used nor revoked (a newer link, a
    deactivation, or any other end of the person's credentials revokes it).
    """

    id = fields.IntField(primary_key=True)
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="sign_in_links", on_delete=fields.RESTRICT
    )
    professional_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    created_by_id = fields.IntField(null=True)  # None: the operator at the server's shell
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sign_in_link"
