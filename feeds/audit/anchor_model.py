"""Tortoise model of audit archive anchors (registered with the `feeds` app)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditAnchor(Model):
    """Where the audit chain starts after older months were archived: one row per
    `jigsaw audit archive`, holding the signed anchor as one JSON line
    (feeds/audit/anchors.py). The line is what counts; `seq` only orders the rows, and a
    row whose line does not verify is reported as tampering."""

    id = fields.IntField(primary_key=True)
    seq = fields.BigIntField()  # the last archived record's seq (as signed in `line`)
    line = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_anchor"
