"""Room for encrypted authenticator secrets ("fernet:" and a Fernet token, about 150
characters; rows written before encryption keep their bare base32 secret until its next
use or `jigsaw mfa rotate-keys`), and indexes for the sign-in throttle's counts."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class WidenColumn(ops.AlterField):
    """AlterField for the model state; in the database only PostgreSQL needs the change.
    SQLite does not enforce VARCHAR lengths, and Tortoise's SQLite rebuild of the table
    would drop the UNIQUE constraint of the one-to-one professional_id."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if state_editor is None or state_editor.client.capabilities.dialect != "postgres":
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        return None  # secrets sealed since do not fit the old width: no way back


class Migration(migrations.Migration):
    dependencies = [('feeds', '0012_audit_sealer')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='AuditRecord',
            index=Index(fields=['actor_email', 'at']),
        ),
        ops.AddIndex(
            model_name='AuditRecord',
            index=Index(fields=['ip', 'at']),
        ),
        WidenColumn(
            model_name='MfaFactor',
            name='secret',
            field=fields.CharField(max_length=255),
        ),
    ]
