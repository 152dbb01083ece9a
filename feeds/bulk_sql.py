"""Many rows in few statements, on both databases (imports write tens of thousands).

Multi-row `INSERT ... VALUES (...), (...)` in chunks under both drivers' parameter limits
(SQLite 32,766, PostgreSQL 65,535), with `RETURNING` when the caller needs the new ids;
`UPDATE`s as one prepared statement run over many parameter rows. Always inside the
caller's transaction: a failure anywhere rolls every chunk back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise import connections

from feeds import raw_sql

MAX_PARAMS = 30_000
MAX_ROWS = 1_000  # per statement: big enough to be fast, small enough to plan quickly


def _chunk_size(columns: int) -> int:
    return max(1, min(MAX_ROWS, MAX_PARAMS // max(columns, 1)))


def _values_sql(rows: int, columns: int) -> str:
    groups = (
        "(" + ", ".join(f"${row * columns + col + 1}" for col in range(columns)) + ")"
        for row in range(rows)
    )
    return ", ".join(groups)


async def insert_rows(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str] = (),
    on_conflict_nothing: bool = False,
) -> list[dict[str, Any]]:
    """Insert `rows` (values in `columns` order); the `returning` columns of each new row."""
    connection = connections.get("default")
    dialect = connection.capabilities.dialect
    names = ", ".join(f'"{name}"' for name in columns)
    found: list[dict[str, Any]] = []
    size = _chunk_size(len(columns))
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        values = _values_sql(len(chunk), len(columns))
        sql = f'INSERT INTO "{table}" ({names}) VALUES {values}'  # noqa: S608 - our names
        if on_conflict_nothing:
            sql += " ON CONFLICT DO NOTHING"
        params = [value for row in chunk for value in row]
        if returning:
            sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
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
    connection = connections.get("default")
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
