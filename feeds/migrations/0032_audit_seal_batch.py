"""The audit sealer's batch in one round trip on PostgreSQL: `audit_seal` runs the
sealer's UPDATE (feeds/audit/chain.py `_SEAL_SQL`) row by row in the order given, so the
append-only trigger still checks every seq is the next one, and stops at the first row
another sealer took (returning how many it sealed). One statement per audited request
cost the sealer's worker a round trip and PostgreSQL a statement each; SQLite keeps the
loop in Python (no functions there)."""

from tortoise import migrations
from tortoise.migrations import operations as ops

CREATE = """
CREATE OR REPLACE FUNCTION audit_seal(seqs bigint[], hashes text[], ids bigint[],
                                      ats timestamptz[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  changed integer;
BEGIN
  FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP
    UPDATE audit_record SET seq = seqs[i], hash = hashes[i]
     WHERE id = ids[i] AND at = ats[i] AND seq IS NULL;
    GET DIAGNOSTICS changed = ROW_COUNT;
    IF changed <> 1 THEN
      RETURN i - 1;
    END IF;
  END LOOP;
  RETURN coalesce(array_length(ids, 1), 0);
END;
$$
"""


async def create_seal_function(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(CREATE)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0031_velocity_state_fillfactor")]

    initial = False

    operations = [ops.RunPython(create_seal_function)]
