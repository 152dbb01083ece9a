"""PostgreSQL search against a plain reference query: same hits, same order, same scores.

The engine picks its SQL by how many children and how common the words are (search/postgres.py);
whatever it picks must answer exactly what the straightforward query answers: every match
within the allowed children and filters, newest first or by ts_rank_cd, paged by cursor.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from tortoise import connections

from search import postgres
from search.base import Order, PostDoc, SearchIndex, SearchQuery
from tests import db_backends

pytestmark = db_backends.postgres_only("the PostgreSQL backend's own SQL")

CHILDREN = 420  # more than postgres.FEW_CHILDREN: both ways of reading are exercised
WORDS = ["visit", "visited", "school", "home", "mum", "cancelled", "neighbour", "shouting"]
RARE = [f"rare{n}" for n in range(40)]
TEXTS = ["visit", "school", '"home visit"', "boyf", "mum cancelled", "neigh", "rare3", "he"]


def body(rng: random.Random) -> str:
    words = rng.choices(WORDS, weights=[30, 5, 10, 12, 40, 3, 3, 3], k=rng.randint(3, 9))
    words += rng.sample(["he", "said", "boyfriend", "the", "and"], 2)
    if rng.random() < 0.1:
        words.append(rng.choice(RARE))
    return " ".join(words)


def docs(count: int, seed: int = 5) -> list[PostDoc]:
    rng = random.Random(seed)
    return [
        PostDoc(
            n,
            rng.randrange(1, CHILDREN + 1),
            1 + n % 7,
            1 + n % 3,
            rng.choice(["update", "visit", "hunch"]),
            1.7e9 + n * 60 + rng.random(),
            body(rng),
        )
        for n in range(1, count + 1)
    ]


async def reference(query: SearchQuery) -> list[tuple[int, int, float]]:
    """Every match, in order: the SQL anyone would write first. Over many children,
    relevance ranks the matches among the newest WINDOW posts, or the newest RANKED_MIN
    matches when fewer are there (the documented bound)."""
    values: list[Any] = [postgres.websearch_text(query.parsed), postgres.prefix_text(query.parsed)]
    where = postgres.filter_sql(query, values)
    order = "d.post_id DESC" if query.order == "newest" else "score DESC, d.post_id DESC"
    sql = (
        f"SELECT d.post_id, d.child_id, ts_rank_cd(d.tsv, {postgres.TSQUERY}) AS score "  # noqa: S608
        f"FROM search_doc d WHERE d.tsv @@ ({postgres.TSQUERY}) AND {where} ORDER BY {order}"
    )
    if query.order == "relevance" and len(query.children()) > postgres.FEW_CHILDREN:
        newest = sql.replace("score DESC, d.post_id", "d.post_id")
        low = f"(SELECT max(post_id) - {postgres.WINDOW} FROM search_doc)"  # noqa: S608
        window = newest.replace(" ORDER BY", f" AND d.post_id > {low} ORDER BY")
        sql = (
            f"SELECT * FROM ({window} LIMIT {postgres.RANKED_MAX}) w UNION "  # noqa: S608
            f"SELECT * FROM ({newest} LIMIT {postgres.RANKED_MIN}) m "
            f"WHERE (SELECT count(*) FROM ({window}) c) < {postgres.RANKED_MIN} "
            "ORDER BY score DESC, post_id DESC"
        )
    rows = await connections.get("default").execute_query_dict(sql, values)
    return [(int(r["post_id"]), int(r["child_id"]), float(r["score"])) for r in rows]


async def every_page(index: SearchIndex, query: SearchQuery) -> list[tuple[int, int, float]]:
    """All hits, page by page, following the cursor as do_search does."""
    found: list[tuple[int, int, float]] = []
    for _ in range(200):
        hits = await index.search(query)
        found += [(h.post_id, h.child_id, h.score) for h in hits]
        if len(hits) < query.limit:
            return found
        cursor = hits[-1].post_id if query.order == "newest" else (query.cursor or 0) + len(hits)
        query = replace(query, cursor=cursor)
    raise AssertionError("no last page")


def close(got: list[tuple[int, int, float]], want: list[tuple[int, int, float]]) -> bool:
    ids = [(p, c) for p, c, _ in got] == [(p, c) for p, c, _ in want]
    return ids and all(abs(a[2] - b[2]) < 1e-6 for a, b in zip(got, want, strict=True))


@pytest.mark.parametrize("window", [postgres.WINDOW, 40])  # 40: the GIN branch runs too
@pytest.mark.parametrize("order", ["newest", "relevance"])
async def test_every_query_plan_answers_what_the_reference_query_answers(
    index: SearchIndex, order: Order, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if index.name != "postgres":
        pytest.skip("PostgreSQL only")
    monkeypatch.setattr(postgres, "WINDOW", window)
    await index.index_posts(docs(3000))
    rng = random.Random(9)
    few = frozenset(rng.sample(range(1, CHILDREN + 1), 40))
    many = frozenset(rng.sample(range(1, CHILDREN + 1), 380))
    for allowed in (few, many):
        for text in TEXTS:
            for extra in ({}, {"kind": "visit"}, {"child": min(allowed)}):
                query = SearchQuery(text=text, child_ids=allowed, order=order, limit=50, **extra)
                want = await reference(query)
                got = await every_page(index, query)
                assert close(got, want), (len(allowed), text, extra, got[:5], want[:5])
