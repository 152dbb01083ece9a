"""SQLite FTS5 backend: bm25 ranking and FTS5 snippets, in the application's database.

Tables come from migration 0004_search: search_fts (body, rowid = post id) and
search_doc (the ids, kind and time used for filters).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from search.base import ParsedQuery, PostDoc, SearchHit, SearchQuery

SNIPPET_TOKENS = 16


def match_expression(parsed: ParsedQuery) -> str:
    """An FTS5 MATCH string: quoted words and phrases, the prefix as "word"*, all ANDed."""
    parts = [f'"{word}"' for word in parsed.words]
    parts += ['"' + " ".join(phrase) + '"' for phrase in parsed.phrases]
    if parsed.prefix:
        parts.append(f'"{parsed.prefix}"*')
    # Tokens are \w+ (see parse_query), so they can hold no quote or FTS5 operator.
    return " ".join(parts)


def filter_sql(query: SearchQuery, values: list[Any]) -> str:
    """WHERE clauses on search_doc d for the filters; appends their values."""
    clauses = ["d.child_id IN (SELECT value FROM json_each(?))"]
    values.append(json.dumps(query.children()))
    for column, value in (
        ("kind", query.kind),
        ("author_id", query.author),
        ("agency_id", query.agency),
    ):
        if value is not None:
            clauses.append(f"d.{column} = ?")
            values.append(value)
    if query.since is not None:
        clauses.append("d.created_ts >= ?")
        values.append(query.since.timestamp())
    if query.until is not None:
        clauses.append("d.created_ts < ?")
        values.append(query.until.timestamp())
    if query.order == "newest" and query.cursor is not None:
        clauses.append("d.post_id < ?")
        values.append(query.cursor)
    return " AND ".join(clauses)


class SqliteIndex:
    """Full-text search in the same SQLite database as the posts."""

    name = "sqlite"

    async def ensure_ready(self) -> None:
        conn = get_connection("default")
        await conn.execute_query("SELECT rowid FROM search_fts LIMIT 0")
        await conn.execute_query("SELECT post_id FROM search_doc LIMIT 0")

    async def index_posts(self, docs: Sequence[PostDoc]) -> None:
        if not docs:
            return
        async with in_transaction() as conn:
            await self._delete(conn, [doc.post_id for doc in docs])
            await conn.execute_many(
                "INSERT INTO search_fts (rowid, body) VALUES (?, ?)",
                [[doc.post_id, doc.body] for doc in docs],
            )
            await conn.execute_many(
                "INSERT INTO search_doc (post_id, child_id, author_id, agency_id, kind, "
                "created_ts) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    [d.post_id, d.child_id, d.author_id, d.agency_id, d.kind, d.created_ts]
                    for d in docs
                ],
            )

    async def remove_posts(self, post_ids: Sequence[int]) -> None:
        if post_ids:
            async with in_transaction() as conn:
                await self._delete(conn, list(post_ids))

    async def _delete(self, conn: Any, post_ids: list[int]) -> None:
        ids = json.dumps(post_ids)
        await conn.execute_query(
            "DELETE FROM search_fts WHERE rowid IN (SELECT value FROM json_each(?))", [ids]
        )
        await conn.execute_query(
            "DELETE FROM search_doc WHERE post_id IN (SELECT value FROM json_each(?))", [ids]
        )

    async def indexed_ids(self) -> set[int]:
        rows = await get_connection("default").execute_query_dict("SELECT post_id FROM search_doc")
        return {int(row["post_id"]) for row in rows}

    async def clear(self) -> None:
        async with in_transaction() as conn:
            await conn.execute_script("DELETE FROM search_fts")
            await conn.execute_script("DELETE FROM search_doc")

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        if not query.children():
            return []
        values: list[Any] = [match_expression(query.parsed)] if query.has_text else []
        where = filter_sql(query, values)
        order = "d.post_id DESC" if query.order == "newest" else "score DESC, d.post_id DESC"
        offset = query.cursor if query.order == "relevance" and query.cursor else 0
        values += [query.limit, offset]
        # Only fixed column names and ? placeholders are interpolated; values are bound.
        if query.has_text:
            sql = (
                "SELECT d.post_id, d.child_id, -bm25(search_fts) AS score, "  # noqa: S608
                f"snippet(search_fts, 0, char(2), char(3), '…', {SNIPPET_TOKENS}) AS snippet "
                "FROM search_fts JOIN search_doc d ON d.post_id = search_fts.rowid "
                f"WHERE search_fts MATCH ? AND {where} ORDER BY {order} LIMIT ? OFFSET ?"
            )
        else:  # filters only: the posts themselves, newest first (every score equal)
            sql = (
                "SELECT d.post_id, d.child_id, 0.0 AS score, '' AS snippet "  # noqa: S608
                f"FROM search_doc d WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
            )
        rows = await get_connection("default").execute_query_dict(sql, values)
        return [_hit(row) for row in rows]


def _hit(row: dict[str, Any]) -> SearchHit:
    return SearchHit(int(row["post_id"]), int(row["child_id"]), float(row["score"]), row["snippet"])
