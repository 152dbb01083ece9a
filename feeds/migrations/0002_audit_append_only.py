"""Make audit_record append-only: the database itself refuses UPDATE and DELETE."""

from tortoise import migrations
from tortoise.migrations import operations as ops

SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS audit_record_no_update BEFORE UPDATE ON audit_record
       BEGIN SELECT RAISE(ABORT, 'audit_record is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_record_no_delete BEFORE DELETE ON audit_record
       BEGIN SELECT RAISE(ABORT, 'audit_record is append-only'); END""",
]

POSTGRES = [
    """CREATE OR REPLACE FUNCTION audit_record_refuse_change() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_record is append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record
       FOR EACH ROW EXECUTE FUNCTION audit_record_refuse_change()""",
]


async def create_triggers(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    client = schema_editor.client
    statements = POSTGRES if client.capabilities.dialect == "postgres" else SQLITE
    for sql in statements:
        await client.execute_script(sql)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0001_initial")]
    # SQLite cannot create a trigger inside the migration's transaction wrapper.
    atomic = False

    operations = [ops.RunPython(create_triggers)]
