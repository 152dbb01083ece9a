"""Period comparisons read from the daily tallies (feeds/velocity/tallies.py), summed in
the database: a manager comparing two months over 2,000 children gets a handful of
aggregate rows, not every post. Periods are whole UTC days, as the board asks for them.

The pure definition of the numbers is `feeds.velocity.detector.period_stats` over posts;
tests hold this reader to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import UTC, date, datetime, time
from typing import Any

from tortoise import connections

from feeds import replica
from feeds.velocity.detector import KINDS, PeriodStats
from feeds.velocity.tallies import chunked

# child_activity_day's JSON columns map a key (kind, professional id, agency name) to a
# count of posts; a key leaves the map when its count reaches zero (removed posts).
_EACH = {
    "postgres": "jsonb_each_text(d.{column}::jsonb)",
    "sqlite": "json_each(d.{column})",
}
_KINDS_SQL = (
    "SELECT k.key, SUM(CAST(k.value AS INTEGER)) FROM child_activity_day d, {each} k "
    "WHERE d.child_id IN ({ids}) AND d.day >= {first} AND d.day < {end} GROUP BY k.key"
)
_KINDS_BY_CHILD_SQL = (
    "SELECT d.child_id, k.key, SUM(CAST(k.value AS INTEGER)) FROM child_activity_day d, "
    "{each} k WHERE d.child_id IN ({ids}) AND d.day >= {first} AND d.day < {end} "
    "GROUP BY d.child_id, k.key"
)
_KEYS_BY_CHILD_SQL = (
    "SELECT d.child_id, COUNT(DISTINCT k.key) FROM child_activity_day d, {each} k "
    "WHERE d.child_id IN ({ids}) AND d.day >= {first} AND d.day < {end} GROUP BY d.child_id"
)
_KEYS_SQL = (
    "SELECT DISTINCT k.key FROM child_activity_day d, {each} k "
    "WHERE d.child_id IN ({ids}) AND d.day >= {first} AND d.day < {end}"
)


def day_of(moment: datetime) -> date:
    """The UTC day a period boundary names; boundaries must fall on UTC midnight."""
    at = moment.astimezone(UTC)
    if at.time() != time():
        raise ValueError("period boundaries must be UTC midnights (whole days)")
    return at.date()


async def _query(template: str, column: str, chunk: list[int], first: date, end: date) -> Any:
    connection = connections.get("default")
    dialect = "postgres" if connection.capabilities.dialect == "postgres" else "sqlite"
    marks = ("$1", "$2") if dialect == "postgres" else ("?", "?")
    params: list[Any] = [first, end] if dialect == "postgres" else [str(first), str(end)]
    sql = template.format(
        each=_EACH[dialect].format(column=column),
        ids=",".join(str(int(child_id)) for child_id in chunk),
        first=marks[0],
        end=marks[1],
    )
    return await replica.read_rows(sql, params)


async def period_stats_from_tallies(
    child_ids: Collection[int], start: datetime, end: datetime
) -> PeriodStats:
    """Posts by kind, distinct authors and distinct agencies over these children together
    in the whole UTC days [start, end)."""
    first, last = day_of(start), day_of(end)
    by_kind: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
    authors: set[str] = set()
    agencies: set[str] = set()
    for chunk in chunked(child_ids):
        for kind, count in await _query(_KINDS_SQL, "by_kind", chunk, first, last):
            by_kind[str(kind)] += int(count)
        authors.update(str(r[0]) for r in await _query(_KEYS_SQL, "authors", chunk, first, last))
        agencies.update(str(r[0]) for r in await _query(_KEYS_SQL, "agencies", chunk, first, last))
    return PeriodStats(
        posts_by_kind={kind: by_kind[kind] for kind in KINDS},
        total_posts=sum(by_kind.values()),
        distinct_authors=len(authors),
        distinct_agencies=len(agencies),
    )


async def period_stats_by_child(
    child_ids: Collection[int], start: datetime, end: datetime
) -> dict[int, PeriodStats]:
    """Each child's own posts by kind, distinct authors and agencies in the whole UTC days
    [start, end) (children without posts get zeros): the board's row per child."""
    first, last = day_of(start), day_of(end)
    kinds: dict[int, Counter[str]] = {int(c): Counter(dict.fromkeys(KINDS, 0)) for c in child_ids}
    authors: Counter[int] = Counter()
    agencies: Counter[int] = Counter()
    for chunk in chunked(child_ids):
        for child_id, kind, count in await _query(
            _KINDS_BY_CHILD_SQL, "by_kind", chunk, first, last
        ):
            kinds[int(child_id)][str(kind)] += int(count)
        for column, found in (("authors", authors), ("agencies", agencies)):
            for child_id, count in await _query(_KEYS_BY_CHILD_SQL, column, chunk, first, last):
                found[int(child_id)] = int(count)
    return {
        child_id: PeriodStats(
            posts_by_kind={kind: counts[kind] for kind in KINDS},
            total_posts=sum(counts.values()),
            distinct_authors=authors[child_id],
            distinct_agencies=agencies[child_id],
        )
        for child_id, counts in kinds.items()
    }
