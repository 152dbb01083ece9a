"""Audit rows are written unsealed and chained later by one elected sealer.

Requests insert `audit_record` rows with `seq` and `hash` NULL (no lock); the sealer
(feeds/audit/sealer.py) sets both exactly once, in commit-visible order. The triggers
are rebuilt so the database itself enforces that shape:

- INSERT: only unsealed rows (seq and hash NULL).
- UPDATE: only unsealed -> sealed, with seq the next number after the highest sealed one,
  a 64-character hash, and every other column unchanged. Anything else is refused.
- DELETE: always refused.

Existing rows: those the old writers chained (hash set) keep their hashes and are given
seq 1..n in id order, which is the order the old chain was built in; rows written before
the chain existed (hash '') become unsealed and the sealer chains them after the rest.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

REFUSED = "audit_record is append-only: only the sealer may set seq and hash, once"

# Every column but seq and hash: the sealer must leave them as they were. A test
# (tests/trust/test_audit_sealer.py) changes each model column in turn, so a column
# added later without being listed here fails it.
SQLITE_KEPT = (
    "id", "at", "actor_id", "actor_email", "action", "child_id", "outcome", "ip",
    "request_id", "detail",
)

DROP_OLD = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_record_no_update",
        "DROP TRIGGER IF EXISTS audit_record_no_delete",
    ],
    "postgres": ["DROP TRIGGER IF EXISTS audit_record_append_only ON audit_record"],
}

SEAL_RULE = """OLD.seq IS NULL AND OLD.hash IS NULL
    AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL AND length(NEW.hash) = 64
    AND NEW.seq = (SELECT coalesce(max(seq), 0) + 1 FROM audit_record)"""

SQLITE = [
    f"""CREATE TRIGGER audit_record_no_insert_sealed BEFORE INSERT ON audit_record
       WHEN NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL
       BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
    f"""CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record
       WHEN NOT ({SEAL_RULE}
         AND {" AND ".join(f"NEW.{c} IS OLD.{c}" for c in SQLITE_KEPT)})
       BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
    f"""CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record
       BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
]

POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION audit_record_refuse_change() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'INSERT' AND NEW.seq IS NULL AND NEW.hash IS NULL THEN
           RETURN NEW;
         END IF;
         -- to_jsonb covers every column, including any added later.
         IF TG_OP = 'UPDATE' AND {SEAL_RULE}
            AND to_jsonb(NEW) - 'seq' - 'hash' = to_jsonb(OLD) - 'seq' - 'hash' THEN
           RETURN NEW;
         END IF;
         RAISE EXCEPTION '{REFUSED}';
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_record_append_only BEFORE INSERT OR UPDATE OR DELETE
       ON audit_record FOR EACH ROW EXECUTE FUNCTION audit_record_refuse_change()""",
]

NUMBER_CHAINED = """UPDATE audit_record SET seq = numbered.n
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_record
          WHERE hash IS NOT NULL AND hash <> '') AS numbered
    WHERE audit_record.id = numbered.id"""

UNSEALED_INDEX = "CREATE INDEX audit_record_unsealed ON audit_record (id) WHERE seq IS NULL"
# SQLite's AlterField rebuilds the table and loses this index (made by 0001); put it back.
CHILD_INDEX = (
    'CREATE INDEX IF NOT EXISTS "idx_audit_recor_child_i_c7a8c3" ON "audit_record" ("child_id")'
)


def _dialect(schema_editor) -> str:  # type: ignore[no-untyped-def]
    return "postgres" if schema_editor.client.capabilities.dialect == "postgres" else "sqlite"


async def drop_old_triggers(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    for sql in DROP_OLD[_dialect(schema_editor)]:
        await schema_editor.client.execute_script(sql)


async def number_and_protect(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    client = schema_editor.client
    await client.execute_script("UPDATE audit_record SET hash = NULL WHERE hash = ''")
    await client.execute_script(NUMBER_CHAINED)
    await client.execute_script(UNSEALED_INDEX)
    postgres = _dialect(schema_editor) == "postgres"
    if not postgres:
        await client.execute_script(CHILD_INDEX)
    for sql in POSTGRES if postgres else SQLITE:
        await client.execute_script(sql)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0011_sweep_shards")]

    initial = False
    # SQLite cannot create a trigger inside the migration's transaction wrapper.
    atomic = False

    operations = [
        ops.RunPython(drop_old_triggers),
        ops.CreateModel(
            name="AuditSealerLease",
            fields=[
                ("name", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ("holder", fields.CharField(max_length=64)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "audit_sealer_lease",
                "app": "feeds",
                "pk_attr": "name",
                "table_description": "Which worker seals the audit log (a compare-and-set lease).",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="AuditRecord",
            name="hash",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name="AuditRecord",
            name="seq",
            field=fields.BigIntField(null=True, unique=True),
        ),
        ops.RunPython(number_and_protect),
    ]
