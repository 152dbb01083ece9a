"""Many rows in few statements, on both databases (imports write tens of thousands).

PostgreSQL: `INSERT ... SELECT * FROM unnest(<one array per column>)`; SQLite: multi-row
`INSERT ... VALUES (...), (...)` in chunks under its parameter limit (32,766); both with
`RETURNING` when the caller needs the new ids;
`UPDATE`s as one prepared statement run over many parameter rows. Always inside the
caller's transaction: a failure anywhere rolls every chunk back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any

from tortoise.connection import get_connection

from feeds import raw_sql

log = logging.getLogger("jigsaw.bulk")

MAX_PARAMS = 30_000
MAX_ROWS = 1_000  # per statement: big enough to be fast, small enough to plan quickly


def _chunk_size(columns: int) -> int:
    return max(1, min(MAX_ROWS, MAX_PARAMS // max(columns, 1)))


@cache
def _values_sql(rows: int, columns: int) -> str:
    groups = (
        "(" + ", ".join(f"${row * columns + col + 1}" for col in range(columns)) + ")"
        for row in range(rows)
    )
    return ", ".join(groups)


_PG_TYPES: dict[str, dict[str, str]] = {}
_TYPES_SQL = (
    "SELECT column_name, udt_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = $1"
)
PG_ROWS = 10_000  # per statement on PostgreSQL: one array parameter per column


async def _pg_types(table: str) -> dict[str, str]:
    """Each column's type name (for the array casts of `unnest`), read once per table."""
    found = _PG_TYPES.get(table)
    if found is None:
        rows = await raw_sql.fetch(_TYPES_SQL, table)
        found = _PG_TYPES[table] = {str(name): str(udt) for name, udt in rows}
    return found


async def _pg_statement(table: str, columns: Sequence[str]) -> str:
    """PostgreSQL: the rows as one array per column, `unnest`ed: one short statement, planned
    once, whatever the number of rows."""
    types = await _pg_types(table)
    arrays = ", ".join(f"${n + 1}::{types[name]}[]" for n, name in enumerate(columns))
    names = ", ".join(f'"{name}"' for name in columns)
    return f'INSERT INTO "{table}" ({names}) SELECT * FROM unnest({arrays})'  # noqa: S608


def _tail(returning: Sequence[str], on_conflict_nothing: bool) -> str:
    sql = " ON CONFLICT DO NOTHING" if on_conflict_nothing else ""
    if returning:
        sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
    return sql


async def _insert_pg(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    returning: Sequence[str],
    on_conflict_nothing: bool,
) -> list[dict[str, Any]]:
    connection = get_connection("default")
    sql = await _pg_statement(table, columns) + _tail(returning, on_conflict_nothing)
    found: list[dict[str, Any]] = []
    for start in range(0, len(rows), PG_ROWS):
        chunk = rows[start : start + PG_ROWS]
        arrays = [list(column) for column in zip(*chunk, strict=True)]
        found.extend(await connection.execute_query_dict(sql, arrays))
    return found


async def insert_rows(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str] = (),
    on_conflict_nothing: bool = False,
) -> list[dict[str, Any]]:
    """Insert `rows` (values in `columns` order); the `returning` columns of each new row."""
    if not rows:
        return []
    connection = get_connection("default")
    dialect = connection.capabilities.dialect
    if dialect == "postgres":
        return await _insert_pg(table, columns, rows, returning, on_conflict_nothing)
    names = ", ".join(f'"{name}"' for name in columns)
    found: list[dict[str, Any]] = []
    size = _chunk_size(len(columns))
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        values = _values_sql(len(chunk), len(columns))
        sql = f'INSERT INTO "{table}" ({names}) VALUES {values}'  # noqa: S608 - our names
        sql += _tail(returning, on_conflict_nothing)
        params = [value for row in chunk for value in row]
        if returning:
            found.extend(
                await connection.execute_query_dict(raw_sql.placeholders(sql, dialect), params)
            )
        else:
            await connection.execute_query(raw_sql.placeholders(sql, dialect), params)
    return found


async def update_rows(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run one parametrised UPDATE (`$n` parameters) once per row of `rows`."""
    if not rows:
        return
    connection = get_connection("default")
    statement = raw_sql.placeholders(sql, connection.capabilities.dialect)
    await connection.execute_many(statement, [list(row) for row in rows])


async def select_in(sql: str, values: Sequence[Any], *, chunk: int = MAX_ROWS) -> list[raw_sql.Row]:
    """Rows of `sql`, whose `{ids}` stands for a list of parameters, for every value in
    `values` (in chunks)."""
    found: list[raw_sql.Row] = []
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        marks = ", ".join(f"${n + 1}" for n in range(len(part)))
        found.extend(await raw_sql.fetch(sql.format(ids=marks), *part))
    return found


async def analyze(*tables: str) -> None:
    """PostgreSQL: refresh the planner's statistics after a bulk load, so the next lookups
    (a re-import's, a board's) use the indexes at once rather than after autovacuum's next
    round; without them a freshly filled table looks empty and `IN (...)` lists scan it."""
    connection = get_connection("default")
    if connection.capabilities.dialect == "postgres":
        names = ", ".join(f'"{table}"' for table in tables)
        await connection.execute_script(f"ANALYZE {names}")


async def fresh_statistics(*tables: str) -> None:
    """`analyze` after a bulk load has committed: a failure only delays the statistics
    (autovacuum refreshes them later), and must not turn an import that is written into
    one reported as failed ("nothing was imported")."""
    try:
        await analyze(*tables)
    except Exception:
        log.warning("ANALYZE after a bulk load failed; autovacuum will refresh the statistics")
