"""PostgreSQL full-text backend: a tsvector column with a GIN index, websearch_to_tsquery
for words and phrases, a 'simple' prefix query for the last word, ts_headline snippets.

The table comes from migration 0004_search (search_doc, tsv generated from body). Which
SQL runs depends on how many children the caller may see (docs/search.md, "Many children").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.connection import get_connection

from feeds import replica
from search.base import ParsedQuery, PostDoc, SearchHit, SearchQuery

# With few children it is faster to read their posts by child and test each tsvector
# than to intersect a large GIN match (OFFSET 0 keeps the planner from merging the two).
FEW_CHILDREN = 300
# With more, the newest WINDOW posts (of all children) are walked newest first: a common word
# fills a page there; only when fewer than RANKED_MIN of the caller's posts match there does
# the GIN index find the older matches (a rare word). Relevance ranks the matches in that
# window (at most RANKED_MAX, the newest), or the newest RANKED_MIN matches: ranking the tens
# of thousands of posts a common word finds over 2,000 children is what made it slow.
WINDOW = 25_000
RANKED_MIN = 20
RANKED_MAX = 2_000
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


# The child ids as an index condition (`= ANY`), or as a set hashed once per statement: a
# cached generic plan tests `= ANY` against the whole array for every row it reads.
CHILDREN_ANY = "d.child_id = ANY({}::int[])"
CHILDREN_HASHED = "(d.child_id IN (SELECT unnest({}::int[]))) IS TRUE"


class _Where:
    """WHERE clauses with numbered placeholders, built up in order."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self.clauses: list[str] = []

    def add(self, template: str, value: Any) -> None:
        self.values.append(value)
        self.clauses.append(template.format(f"${len(self.values)}"))


def filter_sql(query: SearchQuery, values: list[Any], children: str = CHILDREN_ANY) -> str:
    where = _Where(values)
    where.add(children, query.children())
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


def _source(query: SearchQuery, children: str) -> str:
    """search_doc, or only the children's rows when they are few (`children` names the
    placeholder that holds their ids)."""
    if len(query.children()) > FEW_CHILDREN:
        return "search_doc"
    # `children` is one of our fixed placeholder names ("$1", "$4"), never a value.
    return f"(SELECT * FROM search_doc WHERE child_id = ANY({children}::int[]) OFFSET 0)"  # noqa: S608


# Words through the english stemmer, or else exactly as written: english drops stop words
# ("he", "me", "no"), so a search of nothing else would find nothing. (The tsvector holds
# both forms.) Fixed SQL; the text is bound as $1, the prefix as $2.
TSQUERY = (
    "(websearch_to_tsquery('english', $1) || websearch_to_tsquery('simple', $1)) "
    "&& to_tsquery('simple', $2)"
)


class PostgresIndex:
    """Full-text search in the same PostgreSQL database as the posts."""

    name = "postgres"

    async def ensure_ready(self) -> None:
        await get_connection("default").execute_query("SELECT post_id FROM search_doc LIMIT 0")

    async def index_posts(self, docs: Sequence[PostDoc]) -> None:
        if docs:
            rows = [
                [d.post_id, d.child_id, d.author_id, d.agency_id, d.kind, d.created_ts, d.body]
                for d in docs
            ]
            await get_connection("default").execute_many(UPSERT, rows)

    async def remove_posts(self, post_ids: Sequence[int]) -> None:
        if post_ids:
            await get_connection("default").execute_query(
                "DELETE FROM search_doc WHERE post_id = ANY($1::int[])", [list(post_ids)]
            )

    async def indexed_ids(self) -> set[int]:
        rows = await get_connection("default").execute_query_dict("SELECT post_id FROM search_doc")
        return {int(row["post_id"]) for row in rows}

    async def clear(self) -> None:
        await get_connection("default").execute_script("DELETE FROM search_doc")

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        if not query.children():
            return []
        if not query.has_text:
            sql, values = _filters_only_sql(query)
        elif len(query.children()) > FEW_CHILDREN:
            sql, values = _many_children_sql(query)
        else:
            sql, values = _text_sql(query)
        rows = await replica.read_dicts(sql, values)  # the hot standby when it may serve
        return [
            SearchHit(int(r["post_id"]), int(r["child_id"]), float(r["score"]), r["snippet"])
            for r in rows
        ]


def _paging(query: SearchQuery, values: list[Any]) -> tuple[str, int]:
    """The ORDER BY, and the number of the last placeholder after LIMIT and OFFSET."""
    order = "d.post_id DESC" if query.order == "newest" else "score DESC, d.post_id DESC"
    offset = query.cursor if query.order == "relevance" and query.cursor else 0
    values += [query.limit, offset]
    return order, len(values)


def _text_sql(query: SearchQuery) -> tuple[str, list[Any]]:
    values: list[Any] = [websearch_text(query.parsed), prefix_text(query.parsed), HEADLINE]
    where = filter_sql(query, values)  # its first value, the child ids, is $4
    order, n = _paging(query, values)
    # Only fixed column names and $n placeholders are interpolated; values are bound.
    sql = (
        f"WITH q AS (SELECT {TSQUERY} AS q), "  # noqa: S608
        "hits AS (SELECT d.post_id, d.child_id, d.body, ts_rank_cd(d.tsv, q.q) AS score "
        f"FROM {_source(query, '$4')} d, q WHERE d.tsv @@ q.q AND {where} "
        f"ORDER BY {order} LIMIT ${n - 1} OFFSET ${n}) "
        f"SELECT post_id, child_id, score, ts_headline('english', body, q.q, $3) "
        f"AS snippet FROM hits, q ORDER BY {order.replace('d.', '')}"
    )
    return sql, values


def _filters_only_sql(query: SearchQuery) -> tuple[str, list[Any]]:
    """No words: the posts within the children and filters, newest first."""
    values: list[Any] = []
    where = filter_sql(query, values)  # its first value, the child ids, is $1
    order, n = _paging(query, values)
    sql = (
        "SELECT d.post_id, d.child_id, 0.0::float8 AS score, '' AS snippet "  # noqa: S608
        f"FROM {_source(query, '$1')} d WHERE {where} "
        f"ORDER BY {order} LIMIT ${n - 1} OFFSET ${n}"
    )
    return sql, values


def _window_low(query: SearchQuery, values: list[Any]) -> str:
    """The post id below which the walk stops: WINDOW ids under the newest (below the cursor)."""
    values.append(WINDOW)
    window = f"${len(values)}"
    below = ""
    if query.order == "newest" and query.cursor is not None:
        values.append(query.cursor)
        below = f"WHERE w.post_id < ${len(values)}"
    # Only $n placeholders are interpolated.
    return f"SELECT coalesce(max(w.post_id), 0) - {window} AS low FROM search_doc w {below}"  # noqa: S608


def _many_children_sql(query: SearchQuery) -> tuple[str, list[Any]]:
    """Matches among the newest WINDOW posts by walking the primary key newest first, and
    below them from the GIN index only when the walk found fewer than a page (a rare word):
    its one-time filter keeps it from running otherwise. Newest: exactly the newest matches.
    Relevance: the window's matches, or the newest RANKED_MIN, ranked."""
    values: list[Any] = [websearch_text(query.parsed), prefix_text(query.parsed), HEADLINE]
    where = filter_sql(query, values)
    walk_where = where.replace(CHILDREN_ANY.format("$4"), CHILDREN_HASHED.format("$4"), 1)
    low = _window_low(query, values)
    newest = query.order == "newest"
    values += [query.limit if newest else RANKED_MAX, query.limit if newest else RANKED_MIN]
    k, least = f"${len(values) - 1}", f"${len(values)}"
    order, n = _paging(query, values)
    # Only fixed column names and $n placeholders are interpolated; values are bound.
    # "IS TRUE" keeps the walk off the GIN index: it must go newest first and stop early.
    # "+ 0" keeps the older branch off the primary key: a bitmap of nearly every row.
    sql = (
        f"WITH q AS MATERIALIZED (SELECT {TSQUERY} AS q), "  # noqa: S608
        f"edge AS MATERIALIZED ({low}), "
        "walked AS MATERIALIZED (SELECT d.post_id, d.child_id, d.body, d.tsv "
        "FROM search_doc d, q WHERE d.post_id > (SELECT low FROM edge) "
        f"AND (d.tsv @@ q.q) IS TRUE AND {walk_where} ORDER BY d.post_id DESC LIMIT {k}), "
        "older AS MATERIALIZED (SELECT d.post_id, d.child_id, d.body, d.tsv FROM search_doc d, q "
        f"WHERE d.tsv @@ q.q AND {where} AND d.post_id + 0 <= (SELECT low FROM edge)), "
        "found AS ((SELECT * FROM walked) UNION ALL (SELECT * FROM older "
        f"WHERE (SELECT count(*) FROM walked) < {least} ORDER BY post_id DESC "
        f"LIMIT greatest({least} - (SELECT count(*) FROM walked), 0))), "
        "hits AS (SELECT d.post_id, d.child_id, d.body, ts_rank_cd(d.tsv, q.q) AS score "
        f"FROM found d, q ORDER BY {order} LIMIT ${n - 1} OFFSET ${n}) "
        f"SELECT post_id, child_id, score, ts_headline('english', body, q.q, $3) "
        f"AS snippet FROM hits, q ORDER BY {order.replace('d.', '')}"
    )
    return sql, values
