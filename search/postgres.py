"""PostgreSQL full-text backend: a tsvector column with a GIN index, websearch_to_tsquery
for words and phrases, a 'simple' prefix query for the last word, ts_headline snippets.

The table comes from migration 0004_search (search_doc, tsv generated from body).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise import connections

from search.base import ParsedQuery, PostDoc, SearchHit, SearchQuery

# With few children it is faster to read their posts by child and test each tsvector
# than to intersect a large GIN match (OFFSET 0 keeps the planner from merging the two).
FEW_CHILDREN = 300
HEADLINE = "StartSel=\x02, StopSel=\x03, MaxWords=20, MinWords=8, ShortWord=2"
UPSERT = (
    "INSERT INTO search_doc (post_id, child_id, author_id, agency_id, kind, created_ts, body) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (post_id) DO UPDATE SET "
    "child_id = EXCLUDED.child_id, author_id = EXCLUDED.author_id, "
    "agency_id = EXCLUDED.agency_id, kind = EXCLUDED.kind, "
    "created_ts = EXCLUDED.created_ts, body = EXCLUDED.body"
)


def websearch_text(parsed: ParsedQuery) -> str:
    """Words and quoted phrases in websearch_to_tsquery syntax (the prefix goes separately)."""
    parts = list(parsed.words) + ['"' + " ".join(phrase) + '"' for phrase in parsed.phrases]
    return " ".join(parts)


def prefix_text(parsed: ParsedQuery) -> str:
    # The prefix is \w+ (see parse_query): no quote or tsquery operator can reach here.
    return f"'{parsed.prefix}':*" if parsed.prefix else ""


class _Where:
    """WHERE clauses with numbered placeholders, built up in order."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self.clauses: list[str] = []

    def add(self, template: str, value: Any) -> None:
        self.values.append(value)
        self.clauses.append(template.format(f"${len(self.values)}"))


def filter_sql(query: SearchQuery, values: list[Any]) -> str:
    where = _Where(values)
    where.add("d.child_id = ANY({}::int[])", query.children())
    for column, value in (
        ("kind", query.kind),
        ("author_id", query.author),
        ("agency_id", query.agency),
    ):
        if value is not None:
            where.add(f"d.{column} = {{}}", value)
    if query.since is not None:
        where.add("d.created_ts >= {}", query.since.timestamp())
    if query.until is not None:
        where.add("d.created_ts < {}", query.until.timestamp())
    if query.order == "newest" and query.cursor is not None:
        where.add("d.post_id < {}", query.cursor)
    return " AND ".join(where.clauses)


def _source(query: SearchQuery) -> str:
    """search_doc, or only the children's rows when they are few ($4 holds the child ids)."""
    if len(query.children()) > FEW_CHILDREN:
        return "search_doc"
    return "(SELECT * FROM search_doc WHERE child_id = ANY($4::int[]) OFFSET 0)"


class PostgresIndex:
    """Full-text search in the same PostgreSQL database as the posts."""

    name = "postgres"

    async def ensure_ready(self) -> None:
        await connections.get("default").execute_query("SELECT post_id FROM search_doc LIMIT 0")

    async def index_posts(self, docs: Sequence[PostDoc]) -> None:
        if docs:
            rows = [
                [d.post_id, d.child_id, d.author_id, d.agency_id, d.kind, d.created_ts, d.body]
                for d in docs
            ]
            await connections.get("default").execute_many(UPSERT, rows)

    async def remove_posts(self, post_ids: Sequence[int]) -> None:
        if post_ids:
            await connections.get("default").execute_query(
                "DELETE FROM search_doc WHERE post_id = ANY($1::int[])", [list(post_ids)]
            )

    async def indexed_ids(self) -> set[int]:
        rows = await connections.get("default").execute_query_dict("SELECT post_id FROM search_doc")
        return {int(row["post_id"]) for row in rows}

    async def clear(self) -> None:
        await connections.get("default").execute_script("DELETE FROM search_doc")

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        if query.parsed.is_empty or not query.children():
            return []
        values: list[Any] = [websearch_text(query.parsed), prefix_text(query.parsed), HEADLINE]
        where = filter_sql(query, values)
        order = "d.post_id DESC" if query.order == "newest" else "score DESC, d.post_id DESC"
        offset = query.cursor if query.order == "relevance" and query.cursor else 0
        values += [query.limit, offset]
        n = len(values)
        # Only fixed column names and $n placeholders are interpolated; values are bound.
        sql = (
            "WITH q AS (SELECT websearch_to_tsquery('english', $1) "  # noqa: S608
            "&& to_tsquery('simple', $2) AS q), "
            "hits AS (SELECT d.post_id, d.child_id, d.body, ts_rank_cd(d.tsv, q.q) AS score "
            f"FROM {_source(query)} d, q WHERE d.tsv @@ q.q AND {where} "
            f"ORDER BY {order} LIMIT ${n - 1} OFFSET ${n}) "
            f"SELECT post_id, child_id, score, ts_headline('english', body, q.q, $3) "
            f"AS snippet FROM hits, q ORDER BY {order.replace('d.', '')}"
        )
        rows = await connections.get("default").execute_query_dict(sql, values)
        return [
            SearchHit(int(r["post_id"]), int(r["child_id"]), float(r["score"]), r["snippet"])
            for r in rows
        ]
