"""Monthly time partitions for the tables that grow forever: `event` and `audit_record`
(issue 20, part 3). PostgreSQL only; SQLite has no partitioning and is left as it is.

Each table is rebuilt as `PARTITION BY RANGE` on its time-stamp: the old table is renamed,
a partitioned parent made LIKE it (same columns, defaults and sequence), one partition per
month from its oldest row to two months ahead plus a default partition, the rows copied,
the sequence handed to the new table, the old table dropped, then the keys, indexes and
(for the audit log) the append-only trigger rebuilt on the parent, which PostgreSQL clones
onto every partition, present and future.

What changes, because PostgreSQL requires every unique index of a partitioned table to
include the partition key:
- the primary keys become (id, created_at) and (id, at). Ids still come from one sequence,
  so they stay unique; Tortoise still sees `id` as the key and inserts still return it.
  Nothing references either table by foreign key.
- `audit_record.seq` loses its unique constraint (a plain index keeps lookups by seq
  fast). What the constraint guaranteed, that two sealers racing cannot both append the
  next seq, is now enforced by the trigger: sealing takes a transaction advisory lock
  before checking that the seq is the next one, so the second sealer waits, then sees the
  first one's rows and is refused (tests/trust/test_audit_partitions.py).

`post` is deliberately not partitioned (docs/scale.md, "Why not partition post").
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

from feeds.partitions import Month, create_default_sql, create_month_sql, months_between

AHEAD = 2  # months ahead created now; `jigsaw partitions ensure` keeps it so

EVENT_INDEXES = [
    'ALTER TABLE "event" ADD CONSTRAINT "event_pkey" PRIMARY KEY ("id", "created_at")',
    'CREATE INDEX "idx_event_child_i_c3ed25" ON "event" ("child_id")',
]

AUDIT_INDEXES = [
    'ALTER TABLE "audit_record" ADD CONSTRAINT "audit_record_pkey" PRIMARY KEY ("id", "at")',
    'CREATE INDEX "audit_record_seq" ON "audit_record" ("seq")',
    'CREATE INDEX "audit_record_unsealed" ON "audit_record" ("id") WHERE seq IS NULL',
    'CREATE INDEX "idx_audit_recor_actor_e_b6e406" ON "audit_record" ("actor_email", "at")',
    'CREATE INDEX "idx_audit_recor_child_i_c7a8c3" ON "audit_record" ("child_id")',
    'CREATE INDEX "idx_audit_recor_ip_50c965" ON "audit_record" ("ip", "at")',
]

REFUSED = "audit_record is append-only: only the sealer may set seq and hash, once"
SEAL_LOCK = 0x5EA1  # the advisory lock sealing transactions serialise on

# As migration 0012's, with the advisory lock taken before the seq is checked.
AUDIT_TRIGGER = [
    f"""CREATE OR REPLACE FUNCTION audit_record_refuse_change() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'INSERT' AND NEW.seq IS NULL AND NEW.hash IS NULL THEN
           RETURN NEW;
         END IF;
         IF TG_OP = 'UPDATE' THEN
           -- seq is no longer unique by index: one sealing transaction at a time, and
           -- each sees the seqs the one before it committed.
           PERFORM pg_advisory_xact_lock({SEAL_LOCK});
           IF OLD.seq IS NULL AND OLD.hash IS NULL
              AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL AND length(NEW.hash) = 64
              AND NEW.seq = (SELECT coalesce(max(seq), 0) + 1 FROM audit_record)
              -- to_jsonb covers every column, including any added later.
              AND to_jsonb(NEW) - 'seq' - 'hash' = to_jsonb(OLD) - 'seq' - 'hash' THEN
             RETURN NEW;
           END IF;
         END IF;
         RAISE EXCEPTION '{REFUSED}';
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_record_append_only BEFORE INSERT OR UPDATE OR DELETE
       ON audit_record FOR EACH ROW EXECUTE FUNCTION audit_record_refuse_change()""",
]


async def _value(client, sql: str):  # type: ignore[no-untyped-def]
    _, rows = await client.execute_query(sql)
    return rows[0][0]


async def _partition(client, table: str, key: str, after: list[str]) -> None:  # type: ignore[no-untyped-def]
    old = f"{table}_unpartitioned"
    sequence = await _value(client, f"SELECT pg_get_serial_sequence('{table}', 'id')")
    await client.execute_script(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
    await client.execute_script(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    await client.execute_script(
        f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING COMMENTS) '
        f'PARTITION BY RANGE ("{key}")'
    )
    oldest = await _value(client, f'SELECT min("{key}") FROM "{old}"')  # noqa: S608
    now = await _value(client, "SELECT now()")
    first = Month.of(oldest or now)
    for month in months_between(first, Month.of(now).following(AHEAD)):
        await client.execute_script(create_month_sql(table, month))
    await client.execute_script(create_default_sql(table))
    await client.execute_script(f'INSERT INTO "{table}" SELECT * FROM "{old}"')  # noqa: S608
    await client.execute_script(f'ALTER SEQUENCE {sequence} OWNED BY "{table}"."id"')
    await client.execute_script(f'DROP TABLE "{old}"')
    for sql in after:
        await client.execute_script(sql)


async def partition_tables(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return  # SQLite: no partitioning; retention deletes rows (feeds/partitions.py)
    await _partition(client, "event", "created_at", EVENT_INDEXES)
    await _partition(client, "audit_record", "at", AUDIT_INDEXES + AUDIT_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0024_child_merge")]

    initial = False

    operations = [ops.RunPython(partition_tables)]
