"""An index of the shielded children (a partial one: they are rare). Every read of post
text asks for them, since a shielded child's name is withheld in any child's post
(feeds/access/identity.py `redactor`); without it each such read scanned the child table."""

from tortoise import migrations
from tortoise.migrations import operations as ops

CREATE = "CREATE INDEX IF NOT EXISTS child_shielded ON child (id) WHERE shielded_at IS NOT NULL"


async def index_shielded(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await schema_editor.client.execute_script(CREATE)  # the same SQL on both databases


class Migration(migrations.Migration):
    dependencies = [("feeds", "0028_audit_anchor")]

    initial = False

    operations = [ops.RunPython(index_shielded)]
