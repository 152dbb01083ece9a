"""Period comparisons read from the daily tallies (feeds/velocity/tallies.py), summed in
the database: a manager comparing two months over 2,000 children gets a row per child and
period, not every post. Periods are whole UTC days, as the board asks for them.

The pure definition of the numbers is `feeds.velocity.detector.period_stats` over posts;
tests hold this reader to it. A compared board reads both periods, per child and over the
whole board, in one statement (`compared_by_child`): one pass over the tallies instead
of the twelve statements it took before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, date, datetime, time
from typing import Any

from tortoise import connections

from feeds import replica
from feeds.velocity.detector import KINDS, PeriodStats
from feeds.velocity.tallies import chunked


def day_of(moment: datetime) -> date:
    """The UTC day a period boundary names; boundaries must fall on UTC midnight."""
    at = moment.astimezone(UTC)
    if at.time() != time():
        raise ValueError("period boundaries must be UTC midnights (whole days)")
    return at.date()


# child_activity_day's JSON columns map a key (kind, professional id, agency name) to a
# count of posts; a key leaves the map when its count reaches zero (removed posts).
# Both periods in one pass: each tally row is read once per period it falls in (periods may
# overlap), then summed per child and period: posts by kind (one column per kind, a closed
# set), distinct authors and agencies per child, and the distinct authors and agencies of
# the whole board per period (the board's own totals: a union, not a sum of per-child
# counts). Kind names come from PostKind and ids from our own tables, inlined.
_BOTH_SQL = (
    "WITH p(n, lo, hi) AS (VALUES (0, {first_a}, {end_a}), (1, {first_b}, {end_b})), "
    "d AS {materialized} (SELECT p.n, d.child_id, d.by_kind, d.authors, d.agencies "
    "FROM child_activity_day d JOIN p ON d.day >= p.lo AND d.day < p.hi "
    "WHERE d.child_id IN ({ids})), "
    "a AS (SELECT DISTINCT d.n, d.child_id, k.key FROM d, {authors} k), "
    "g AS (SELECT DISTINCT d.n, d.child_id, k.key FROM d, {agencies} k), "
    "ka AS (SELECT n, child_id, {kinds} FROM d GROUP BY n, child_id), "
    "ac AS (SELECT n, child_id, COUNT(*) AS c FROM a GROUP BY n, child_id), "
    "gc AS (SELECT n, child_id, COUNT(*) AS c FROM g GROUP BY n, child_id) "
    "SELECT 'c', ka.n, ka.child_id, CAST(NULL AS TEXT), COALESCE(ac.c, 0), "
    "COALESCE(gc.c, 0), {sums} "
    "FROM ka LEFT JOIN ac ON ac.n = ka.n AND ac.child_id = ka.child_id "
    "LEFT JOIN gc ON gc.n = ka.n AND gc.child_id = ka.child_id "
    "UNION ALL SELECT DISTINCT 'a', n, CAST(NULL AS INTEGER), key, 0, 0, {zeros} FROM a "
    "UNION ALL SELECT DISTINCT 'g', n, CAST(NULL AS INTEGER), key, 0, 0, {zeros} FROM g"
)
_KIND_OF = {
    "postgres": "COALESCE((d.by_kind::jsonb ->> '{kind}')::int, 0)",
    "sqlite": "COALESCE(json_extract(d.by_kind, '$.{kind}'), 0)",
}
_KEYS_OF = {
    "postgres": "jsonb_each_text(d.{column}::jsonb)",
    "sqlite": "json_each(d.{column})",
}


def _both_sql(dialect: str, chunk: list[int]) -> str:
    kinds = [f"SUM({_KIND_OF[dialect].format(kind=kind)}) AS k{i}" for i, kind in enumerate(KINDS)]
    postgres = dialect == "postgres"
    day = "${n}::date" if postgres else "?"  # SQLite: in order (its JSON paths hold a $)
    return _BOTH_SQL.format(
        first_a=day.format(n=1),
        end_a=day.format(n=2),
        first_b=day.format(n=3),
        end_b=day.format(n=4),
        # Not materialised: each use scans the tallies itself, so that PostgreSQL can memoise
        # the JSON expansion of the many identical author and agency maps (3x faster).
        materialized="NOT MATERIALIZED" if postgres else "",
        ids=",".join(str(int(child_id)) for child_id in chunk),
        authors=_KEYS_OF[dialect].format(column="authors"),
        agencies=_KEYS_OF[dialect].format(column="agencies"),
        kinds=", ".join(kinds),
        sums=", ".join(f"ka.k{i}" for i in range(len(KINDS))),
        zeros=", ".join("0" for _ in KINDS),
    )


Pair = tuple[PeriodStats, PeriodStats]  # (period A, period B)


async def compared_by_child(
    child_ids: Collection[int], a: tuple[datetime, datetime], b: tuple[datetime, datetime]
) -> tuple[Pair, dict[int, Pair]]:
    """Periods A and B (each [start, end) of whole UTC days) over these children together,
    and for each child on its own (children without posts get zeros): what
    `period_stats_from_tallies` and `period_stats_by_child` give, in one statement."""
    days = [day_of(a[0]), day_of(a[1]), day_of(b[0]), day_of(b[1])]
    connection = connections.get("default")
    dialect = "postgres" if connection.capabilities.dialect == "postgres" else "sqlite"
    params: list[Any] = days if dialect == "postgres" else [str(day) for day in days]
    rows: list[Any] = []
    for chunk in chunked(child_ids):
        rows += await replica.read_rows(_both_sql(dialect, chunk), params)
    # Folding ~4,000 rows into stats is CPU: in a thread, off the event loop.
    return await asyncio.to_thread(_fold, rows, child_ids)


def _fold(rows: list[Any], child_ids: Collection[int]) -> tuple[Pair, dict[int, Pair]]:
    kinds = {(n, int(c)): [0] * len(KINDS) for c in child_ids for n in (0, 1)}
    counts: dict[tuple[int, int], tuple[int, int]] = {}
    keys: tuple[tuple[set[str], set[str]], ...] = ((set(), set()), (set(), set()))
    for tag, n, child_id, key, authors, agencies, *by_kind in rows:
        if tag == "c":
            kinds[(int(n), int(child_id))] = [int(k) for k in by_kind]
            counts[(int(n), int(child_id))] = (int(authors), int(agencies))
        else:
            keys[int(n)][0 if tag == "a" else 1].add(str(key))
    per_child = {
        int(c): (_stats(kinds, counts, 0, int(c)), _stats(kinds, counts, 1, int(c)))
        for c in child_ids
    }
    overall = tuple(_total(per_child, n, keys[n]) for n in (0, 1))
    return (overall[0], overall[1]), per_child


def _stats(
    kinds: dict[tuple[int, int], list[int]],
    counts: dict[tuple[int, int], tuple[int, int]],
    n: int,
    child_id: int,
) -> PeriodStats:
    by_kind = dict(zip(KINDS, kinds[(n, child_id)], strict=True))
    authors, agencies = counts.get((n, child_id), (0, 0))
    return PeriodStats(by_kind, sum(by_kind.values()), authors, agencies)


def _total(per_child: dict[int, Pair], n: int, keys: tuple[set[str], set[str]]) -> PeriodStats:
    by_kind = dict.fromkeys(KINDS, 0)
    for pair in per_child.values():
        for kind, count in pair[n].posts_by_kind.items():
            by_kind[kind] += count
    return PeriodStats(by_kind, sum(by_kind.values()), len(keys[0]), len(keys[1]))
