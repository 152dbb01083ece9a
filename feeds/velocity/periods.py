"""Period comparisons read from the daily tallies (feeds/velocity/tallies.py), summed in
the database: a manager comparing two months over 2,000 children gets a row per child and
period, not every post. Periods are whole UTC days, as the board asks for them.

The pure definition of the numbers is `feeds.velocity.detector.period_stats` over posts;
tests hold this reader to it. A compared board reads both periods for every child in one
statement (`tallied_by_child`), with each child's authors and agencies, so the board's
totals are the union of its children's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from tortoise.connection import get_connection

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
# overlap), then per child and period: posts by kind (one column per kind, a closed set)
# and the distinct authors and agencies themselves, so that any set of children's totals is
# a union (the board's own distinct authors are not a sum of per-child counts) and one
# child's numbers serve every board it is on (feeds/velocity/comparisons.py). Kind names
# come from PostKind and ids from our own tables, inlined.
_BOTH_SQL = (
    "WITH p(n, lo, hi) AS (VALUES (0, {first_a}, {end_a}), (1, {first_b}, {end_b})), "
    "d AS {materialized} (SELECT p.n, d.child_id, d.by_kind, d.authors, d.agencies "
    "FROM child_activity_day d JOIN p ON d.day >= p.lo AND d.day < p.hi "
    "WHERE d.child_id IN ({ids})) "
    "SELECT 'c', n, child_id, CAST(NULL AS TEXT), {kinds} FROM d GROUP BY n, child_id "
    "UNION ALL SELECT DISTINCT 'a', d.n, d.child_id, k.key, {zeros} FROM d, {authors} k "
    "UNION ALL SELECT DISTINCT 'g', d.n, d.child_id, k.key, {zeros} FROM d, {agencies} k"
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
    kinds = [f"SUM({_KIND_OF[dialect].format(kind=kind)})" for kind in KINDS]
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
        zeros=", ".join("0" for _ in KINDS),
    )


@dataclass(frozen=True)
class Tallied:
    """Activity in one period (of one child, or of several together): posts by kind, in
    the order of `KINDS`, and who posted (author ids and agency names)."""

    by_kind: tuple[int, ...]
    authors: frozenset[str]
    agencies: frozenset[str]

    def stats(self) -> PeriodStats:
        by_kind = dict(zip(KINDS, self.by_kind, strict=True))
        return PeriodStats(by_kind, sum(self.by_kind), len(self.authors), len(self.agencies))


NOTHING = Tallied((0,) * len(KINDS), frozenset(), frozenset())
Tallies = tuple[Tallied, Tallied]  # (period A, period B)
Pair = tuple[PeriodStats, PeriodStats]  # (period A, period B)


def together(parts: Iterable[Tallied]) -> Tallied:
    """Several children's activity in one period: kinds summed, authors and agencies united."""
    kinds = [0] * len(KINDS)
    authors: set[str] = set()
    agencies: set[str] = set()
    for part in parts:
        kinds = [total + count for total, count in zip(kinds, part.by_kind, strict=True)]
        authors |= part.authors
        agencies |= part.agencies
    return Tallied(tuple(kinds), frozenset(authors), frozenset(agencies))


async def tallied_by_child(
    child_ids: Collection[int], a: tuple[datetime, datetime], b: tuple[datetime, datetime]
) -> dict[int, Tallies]:
    """Each child's activity in periods A and B (each [start, end) of whole UTC days;
    children without posts get `NOTHING`), in one statement per chunk of children."""
    days = [day_of(a[0]), day_of(a[1]), day_of(b[0]), day_of(b[1])]
    connection = get_connection("default")
    dialect = "postgres" if connection.capabilities.dialect == "postgres" else "sqlite"
    params: list[Any] = days if dialect == "postgres" else [str(day) for day in days]
    rows: list[Any] = []
    for chunk in chunked(child_ids):
        rows += await replica.read_rows(_both_sql(dialect, chunk), params)
    # Folding thousands of rows is CPU: in a thread, off the event loop.
    return await asyncio.to_thread(_fold, rows, child_ids)


def _fold(rows: list[Any], child_ids: Collection[int]) -> dict[int, Tallies]:
    kinds: dict[tuple[int, int], tuple[int, ...]] = {}
    keys: dict[tuple[int, int], tuple[set[str], set[str]]] = {}
    for tag, n, child_id, key, *by_kind in rows:
        at = (int(n), int(child_id))
        if tag == "c":
            kinds[at] = tuple(int(k) for k in by_kind)
        else:
            keys.setdefault(at, (set(), set()))[0 if tag == "a" else 1].add(str(key))
    found: dict[int, Tallies] = {}
    for child_id in child_ids:
        periods: list[Tallied] = []
        for n in (0, 1):
            at = (n, int(child_id))
            if at not in kinds:
                periods.append(NOTHING)
                continue
            authors, agencies = keys.get(at, (set(), set()))
            periods.append(Tallied(kinds[at], frozenset(authors), frozenset(agencies)))
        found[int(child_id)] = (periods[0], periods[1])
    return found


async def compared_by_child(
    child_ids: Collection[int], a: tuple[datetime, datetime], b: tuple[datetime, datetime]
) -> tuple[Pair, dict[int, Pair]]:
    """Periods A and B over these children together, and for each child on its own
    (children without posts get zeros): what `period_stats_from_tallies` and
    `period_stats_by_child` give, in one statement."""
    each = await tallied_by_child(child_ids, a, b)
    overall = (
        together(t[0] for t in each.values()).stats(),
        together(t[1] for t in each.values()).stats(),
    )
    return overall, {c: (t[0].stats(), t[1].stats()) for c, t in each.items()}
