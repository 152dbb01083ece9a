"""Per-child, per-UTC-day activity tallies, kept in each post's own transaction.

Posting adds one to the day's counters (O(1), whatever the child's history); removing a
post or changing its kind subtracts exactly. Velocity reads a child's last ~91 day rows
instead of its posts, so a full recompute costs rows-per-child, not posts-per-child.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection

from feeds.models import Child, ChildActivityDay
from feeds.velocity.detector import CONCERN_KINDS, QUIET_DAY, DayTally

Counts = dict[str, int]
CHUNK = 5000  # child ids per statement, inlined (integers from our own tables)


def utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def day_end(at: datetime) -> datetime:
    """Midnight UTC at the end of `at`'s day: the `now` that lines stored days up with
    velocity's days[0], days[1], ..."""
    return datetime.combine(utc_day(at) + timedelta(days=1), time(), tzinfo=UTC)


def _bump(counts: Counts, key: str, delta: int) -> None:
    left = counts.get(key, 0) + delta
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)  # the key leaves the day's set


async def _day_row(child_id: int, day: date) -> ChildActivityDay:
    """The day's row, created if missing, locked until the caller's transaction ends.

    Insert-if-absent first, so two posts racing on a new day never fail on the unique
    (child, day) key; the row lock then serialises their updates (SQLite has one writer).
    """
    await ChildActivityDay.bulk_create(
        [ChildActivityDay(child_id=child_id, day=day)], ignore_conflicts=True
    )
    return await ChildActivityDay.select_for_update().get(child_id=child_id, day=day)


# Adding a post on PostgreSQL: one upsert that bumps the day's counters in place, instead
# of insert-if-absent, lock and rewrite (three statements and the ORM's query building,
# a quarter of a post's time). Keys travel as parameters, never inside a JSON path.
def _bumped(column: str, key: str) -> str:
    return (
        f"d.{column} || jsonb_build_object({key}::text, "
        f"COALESCE((d.{column} ->> {key}::text)::int, 0) + 1)"
    )


# Put together from constant column names only (hence the noqa).
ADD_POST_SQL = (
    "INSERT INTO child_activity_day AS d (child_id, day, posts, by_kind, authors, agencies, "  # noqa: S608
    "concern_authors, concern_agencies, last_post_at) VALUES ($1, $2, 1, "
    "jsonb_build_object($3::text, 1), jsonb_build_object($4::text, 1), "
    "jsonb_build_object($5::text, 1), "
    "CASE WHEN $6 THEN jsonb_build_object($4::text, 1) ELSE '{}'::jsonb END, "
    "CASE WHEN $6 THEN jsonb_build_object($5::text, 1) ELSE '{}'::jsonb END, $7) "
    "ON CONFLICT (child_id, day) DO UPDATE SET posts = d.posts + 1, "
    f"by_kind = {_bumped('by_kind', '$3')}, authors = {_bumped('authors', '$4')}, "
    f"agencies = {_bumped('agencies', '$5')}, "
    f"concern_authors = CASE WHEN $6 THEN {_bumped('concern_authors', '$4')} "
    "ELSE d.concern_authors END, "
    f"concern_agencies = CASE WHEN $6 THEN {_bumped('concern_agencies', '$5')} "
    "ELSE d.concern_agencies END, last_post_at = GREATEST(d.last_post_at, $7)"
)


async def count_post(
    child_id: int,
    at: datetime,
    kind: str,
    author_id: int,
    agency: str,
    delta: int = 1,
) -> None:
    """Add (delta=1) or subtract (delta=-1) one post to its day; call inside the post's
    transaction so the tally and the post commit or roll back together."""
    connection = get_connection("default")
    if delta > 0 and connection.capabilities.dialect == "postgres":
        worried = kind in CONCERN_KINDS
        params = [child_id, utc_day(at), kind, str(author_id), agency, worried, at]
        await connection.execute_query(ADD_POST_SQL, params)
        return
    row = await _day_row(child_id, utc_day(at))
    author = str(author_id)
    row.posts = max(0, row.posts + delta)
    _bump(row.by_kind, kind, delta)
    _bump(row.authors, author, delta)
    _bump(row.agencies, agency, delta)
    if kind in CONCERN_KINDS:
        _bump(row.concern_authors, author, delta)
        _bump(row.concern_agencies, agency, delta)
    if delta > 0 and (row.last_post_at is None or at > row.last_post_at):
        row.last_post_at = at
    await row.save()


def tally(
    posts: int,
    by_kind: Counts,
    authors: Counts,
    agencies: Counts,
    concern_authors: Counts,
    concern_agencies: Counts,
) -> DayTally:
    return DayTally(
        posts=posts,
        by_kind=tuple(sorted(by_kind.items())),
        authors=frozenset(authors),
        agencies=frozenset(agencies),
        concern_agencies=frozenset(concern_agencies),
        concern_authors=frozenset(concern_authors),
    )


def chunked(ids: Collection[int]) -> Iterator[list[int]]:
    """Ids in sorted chunks small enough to inline in one statement, of even sizes (6,250
    ids make two chunks of 3,125, not 5,000 and 1,250: a pipelined sweep stays balanced)."""
    ordered = sorted(ids)
    parts = -(-len(ordered) // CHUNK)  # ceiling
    size = -(-len(ordered) // parts) if parts else CHUNK
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def _date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def moment(value: datetime | str | None) -> datetime | None:
    """A stored time as a datetime: SQLite hands back text, asyncpg a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


# Hand-written: the ORM's row building would dominate a 100,000-child recompute. The
# JSON columns the detector reads arrive as one JSON array, so each row costs one
# json.loads (and most rows repeat an earlier one: see _decoded), and the day arrives
# as its age in days. Authors are left out: the detector does not weigh them
# (author_weight 0), and leaving them out makes most days' content repeat.
_SQL = (
    "SELECT child_id, {age}, {counts}, last_post_at FROM child_activity_day "
    "WHERE child_id IN ({ids}) AND day >= {since} AND posts > 0 ORDER BY child_id, day DESC"
)
# A day's tally as PostgreSQL sends it (also hashed by feeds/velocity/unchanged.py).
PACKED_SQL = "json_build_array(posts, by_kind, agencies, concern_agencies)::text"
# PostgreSQL sends one row per child, its days as arrays (youngest first) and the youngest
# day's last post: decoding a row and a timestamp per day was over half a sweep's reading
# (aggregating costs the database a fifth as much). The aggregates take the rows in the
# subquery's order, as in feeds/velocity/unchanged.py. (Constants only, hence the noqa.)
_POSTGRES_SQL = (
    "SELECT child_id, array_agg(age), array_agg(packed), (array_agg(last_post_at))[1] "  # noqa: S608
    f"FROM (SELECT child_id, $2 - day AS age, {PACKED_SQL} AS packed, last_post_at "
    "FROM child_activity_day WHERE child_id IN ({ids}) AND day >= $1 AND posts > 0 "
    "ORDER BY child_id, day DESC) AS d GROUP BY child_id"
)
_SQLITE_SQL = _SQL.format(
    age="CAST(julianday(?) - julianday(day) AS INTEGER)",
    counts="'[' || posts || ',' || by_kind || ',' || agencies || ',' || concern_agencies || ']'",
    ids="{ids}",
    since="?",
)


def _decoded(key: str, seen: dict[str, DayTally]) -> DayTally:
    """A day's tally from its row, remembered: most days are one or two posts from one or
    two agencies, so a sweep meets the same content again and again and decodes it once
    (tallies are immutable, so sharing them is safe)."""
    if len(seen) > 100_000:  # bound the memory of a long sweep
        seen.clear()
    posts, by_kind, agencies, concern_agencies = json.loads(key)
    found = seen[key] = tally(posts, by_kind, {}, agencies, {}, concern_agencies)
    return found


class ChildDays:
    """One child's stored days with posts, as (age in days, tally), youngest first
    (age 0 = `today`), each day's tally as read (`texts`), and its last post time."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.active: list[tuple[int, DayTally]] = []
        self.texts: list[str] = []
        self.last_post_at: datetime | None = None

    @property
    def oldest(self) -> int:
        """The age of the oldest day with posts (-1: none)."""
        return self.active[-1][0] if self.active else -1

    @property
    def days(self) -> list[DayTally]:
        """All `length` days, quiet ones included (index = age)."""
        dense = [QUIET_DAY] * self.length
        for age, day in self.active:
            dense[age] = day
        return dense

    def first_day(self, today: date) -> date | None:
        return today - timedelta(days=self.oldest) if self.oldest >= 0 else None

    def within(self, length: int) -> ChildDays:
        """Only the days younger than `length`: what `load_days(..., length)` gives, from a
        longer read (the sweep reads silence's 40 weeks and velocity's 13 at once)."""
        younger = ChildDays(length)
        if self.oldest < length:  # every day fits (or there are none)
            younger.active, younger.texts = self.active, self.texts
        else:
            younger.active = [(age, day) for age, day in self.active if age < length]
            younger.texts = self.texts[: len(younger.active)]  # youngest first: a prefix
        if younger.active:
            younger.last_post_at = self.last_post_at  # the youngest day's: still in
        return younger


async def load_days(child_ids: Collection[int], today: date, length: int) -> dict[int, ChildDays]:
    """Each child's tallies for `today` and the `length - 1` days before it."""
    found: dict[int, ChildDays] = defaultdict(lambda: ChildDays(length))
    if not child_ids:
        return found
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    since = today - timedelta(days=length - 1)
    params: list[Any] = [since, today] if postgres else [today.isoformat(), since.isoformat()]
    seen: dict[str, DayTally] = {}
    for chunk in chunked(child_ids):
        ids = ",".join(str(int(c)) for c in chunk)
        sql = (_POSTGRES_SQL if postgres else _SQLITE_SQL).format(ids=ids)
        _, rows = await connection.execute_query(sql, params)
        if postgres:
            _collect_children(rows, found, seen)
        else:
            _collect(rows, found, seen)
    return found


def _collect_children(
    rows: Iterable[Any], found: dict[int, ChildDays], seen: dict[str, DayTally]
) -> None:
    """One row per child: its days' ages and tallies, youngest first, and its last post."""
    for child_id, ages, texts, last in rows:
        entry = found[child_id]
        entry.last_post_at = last
        entry.texts = texts
        entry.active = [
            (age, known if (known := seen.get(packed)) is not None else _decoded(packed, seen))
            for age, packed in zip(ages, texts, strict=True)
        ]


def _collect(rows: Iterable[Any], found: dict[int, ChildDays], seen: dict[str, DayTally]) -> None:
    """Rows come grouped by child, youngest day first."""
    current, active, texts = None, [], []
    for child_id, age, packed, last in rows:
        if child_id != current:
            current, entry = child_id, found[child_id]
            entry.last_post_at = moment(last)  # the youngest day holds the latest post
            active, texts = entry.active, entry.texts
        tally = seen.get(packed)
        active.append((age, tally if tally is not None else _decoded(packed, seen)))
        texts.append(packed)


_POSTS_SQL = (
    "SELECT p.child_id, p.created_at, p.kind, p.author_id, a.name FROM post p "
    "JOIN professional r ON r.id = p.author_id JOIN agency a ON a.id = r.agency_id "
    "WHERE p.child_id IN ({ids}) AND p.removed_at IS NULL"
)


def _tallied(rows: list[Any]) -> list[ChildActivityDay]:
    days: dict[tuple[int, date], ChildActivityDay] = {}
    for child_id, created, kind, author_id, agency in rows:
        at = moment(created)
        assert at is not None  # posts always have a creation time
        key = (int(child_id), utc_day(at))
        row = days.get(key)
        if row is None:
            row = days[key] = ChildActivityDay(child_id=key[0], day=key[1], posts=0)
            row.by_kind, row.authors, row.agencies = {}, {}, {}
            row.concern_authors, row.concern_agencies = {}, {}
        row.posts += 1
        _bump(row.by_kind, str(kind), 1)
        _bump(row.authors, str(author_id), 1)
        _bump(row.agencies, str(agency), 1)
        if kind in CONCERN_KINDS:
            _bump(row.concern_authors, str(author_id), 1)
            _bump(row.concern_agencies, str(agency), 1)
        if row.last_post_at is None or at > row.last_post_at:
            row.last_post_at = at
    return list(days.values())


async def rebuild_days(child_ids: Collection[int] | None = None) -> int:
    """Recount these children's days (all children when None) from their posts.

    For posts written around `count_post`: imported history, bulk-loaded demo or
    benchmark data. Run it when no one is posting to these children. Returns rows written.
    """
    ids: Collection[Any] = child_ids or []
    if child_ids is None:
        ids = await Child.all().values_list("id", flat=True)
    connection = get_connection("default")
    written = 0
    for chunk in chunked([int(i) for i in ids]):
        _, rows = await connection.execute_query(
            _POSTS_SQL.format(ids=",".join(str(c) for c in chunk))
        )
        tallies = _tallied(list(rows))
        await ChildActivityDay.filter(child_id__in=chunk).delete()
        await ChildActivityDay.bulk_create(tallies, batch_size=2000)
        written += len(tallies)
    return written


TIMELINE_DAYS = 28


async def kinds_by_day(
    child_id: int, today: date, days: int = TIMELINE_DAYS, db: BaseDBAsyncClient | None = None
) -> list[tuple[date, Counts]]:
    """Posts per kind on each of the last `days` UTC days (oldest first, quiet days empty)
    for a child the caller has already been allowed to see: the child page's timeline
    (read from `db` when given: feeds/velocity/activity.py passes the hot standby's)."""
    since = today - timedelta(days=days - 1)
    query = ChildActivityDay.filter(child_id=child_id, day__gte=since, posts__gt=0)
    rows = await query.using_db(db).values("day", "by_kind")
    found = {_date(row["day"]): dict(row["by_kind"] or {}) for row in rows}
    return [
        (since + timedelta(days=n), found.get(since + timedelta(days=n), {})) for n in range(days)
    ]
