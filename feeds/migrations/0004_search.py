"""Full-text search tables for the embedded backends, and an outbox row for every
existing post so the index catches up with what was posted before this migration.

SQLite: search_doc (ids, kind, time) + search_fts, an FTS5 table keyed by post id.
PostgreSQL: search_doc with a generated tsvector (english stems + simple words for
prefixes) and a GIN index. Meilisearch keeps its own index and needs no tables.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

SQLITE = [
    """CREATE TABLE IF NOT EXISTS search_doc (
       post_id INTEGER PRIMARY KEY, child_id INTEGER NOT NULL, author_id INTEGER NOT NULL,
       agency_id INTEGER NOT NULL, kind VARCHAR(20) NOT NULL, created_ts REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS search_doc_child ON search_doc (child_id, post_id)",
    """CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
       body, tokenize = 'unicode61 remove_diacritics 2')""",
]

POSTGRES = [
    """CREATE TABLE IF NOT EXISTS search_doc (
       post_id INTEGER PRIMARY KEY, child_id INTEGER NOT NULL, author_id INTEGER NOT NULL,
       agency_id INTEGER NOT NULL, kind VARCHAR(20) NOT NULL,
       created_ts DOUBLE PRECISION NOT NULL, body TEXT NOT NULL,
       tsv tsvector GENERATED ALWAYS AS
           (to_tsvector('english', body) || to_tsvector('simple', body)) STORED)""",
    "CREATE INDEX IF NOT EXISTS search_doc_tsv ON search_doc USING GIN (tsv)",
    "CREATE INDEX IF NOT EXISTS search_doc_child ON search_doc (child_id, post_id)",
]

BACKFILL = """INSERT INTO search_outbox (created_at, post_id, child_id, op, attempts, last_error)
    SELECT CURRENT_TIMESTAMP, id, child_id, 'index', 0, '' FROM post ORDER BY id"""


async def create_search_tables(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    client = schema_editor.client
    statements = POSTGRES if client.capabilities.dialect == "postgres" else SQLITE
    for sql in [*statements, BACKFILL]:
        await client.execute_script(sql)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0003_live")]
    # SQLite cannot create a virtual table inside the migration's transaction wrapper.
    atomic = False

    operations = [ops.RunPython(create_search_tables)]
