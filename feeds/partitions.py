"""Monthly time partitions of the tables that grow forever: `event` and `audit_record`.

PostgreSQL only (native declarative partitioning; migration 0025 converts the tables).
SQLite has no partitioning: every function here is a no-op there, and event retention
deletes rows as before.

- Each table is `PARTITION BY RANGE` on its time-stamp (`event.created_at`,
  `audit_record.at`), one partition per UTC month named `<table>_pYYYY_MM`, plus a
  `<table>_default` partition that catches rows no month partition covers (so a missed
  `ensure` never fails an insert).
- `ensure` creates the current month and the next `MONTHS_AHEAD` ones; the app runs it at
  start and daily (server/maintenance.py), `jigsaw partitions ensure` by hand.
- Event retention drops whole monthly partitions once all of a month is older than the
  retention window (`prune_events`): no row deletes, no vacuum debt. Audit partitions are
  never dropped by the app: old months are archived by an operator (docs/operations.md).

Why `post` is not partitioned: docs/scale.md ("Why not partition post").
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from feeds.clock import utcnow
from feeds.models import Event

log = logging.getLogger("jigsaw.partitions")

# table -> its partition key (a NOT NULL timestamptz written at insert, never updated)
TABLES: dict[str, str] = {"event": "created_at", "audit_record": "at"}
MONTHS_AHEAD = 2
LOCK_TIMEOUT = "3s"  # creating or dropping a partition briefly locks the parent
_LOCK_KEY = 0x4A1650  # pg_advisory_xact_lock key: one worker changes partitions at a time
_NAME = re.compile(r"^(?P<table>[a-z_]+)_p(?P<year>\d{4})_(?P<month>\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    """A UTC calendar month: a partition's range is [start, following.start)."""

    year: int
    month: int

    @classmethod
    def of(cls, at: datetime) -> Month:
        at = at.astimezone(UTC)
        return cls(at.year, at.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    def following(self, months: int = 1) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def name(self, table: str) -> str:
        return f"{table}_p{self.year:04d}_{self.month:02d}"


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from `first` to `last`, both included."""
    found, month = [], first
    while month <= last:
        found.append(month)
        month = month.following()
    return found


def _client(client: BaseDBAsyncClient | None) -> BaseDBAsyncClient:
    return client if client is not None else get_connection("default")


def is_postgres(client: BaseDBAsyncClient | None = None) -> bool:
    return _client(client).capabilities.dialect == "postgres"


async def _rows(client: BaseDBAsyncClient, sql: str, *params: object) -> list[tuple[object, ...]]:
    _, rows = await client.execute_query(sql, list(params))
    return [tuple(row) for row in rows]


async def is_partitioned(table: str, client: BaseDBAsyncClient | None = None) -> bool:
    if not is_postgres(client):
        return False
    sql = "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = to_regclass($1)"
    return bool((await _rows(_client(client), sql, table))[0][0])


async def monthly_partitions(table: str, client: BaseDBAsyncClient | None = None) -> list[Month]:
    """The months `table` has a partition for, oldest first (empty on SQLite)."""
    if not is_postgres(client):
        return []
    sql = (
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass($1)"
    )
    found = []
    for (name,) in await _rows(_client(client), sql, table):
        matched = _NAME.match(str(name))
        if matched and matched["table"] == table:
            found.append(Month(int(matched["year"]), int(matched["month"])))
    return sorted(found)


def _bound(at: datetime) -> str:
    return at.strftime("'%Y-%m-%d %H:%M:%S+00'")  # a literal: DDL takes no parameters


def create_month_sql(table: str, month: Month) -> str:
    start, end = _bound(month.start), _bound(month.following().start)
    return (
        f'CREATE TABLE IF NOT EXISTS "{month.name(table)}" PARTITION OF "{table}" '
        f"FOR VALUES FROM ({start}) TO ({end})"
    )


def create_default_sql(table: str) -> str:
    return f'CREATE TABLE IF NOT EXISTS "{table}_default" PARTITION OF "{table}" DEFAULT'


async def _default_holds(client: BaseDBAsyncClient, table: str, month: Month) -> int:
    key = TABLES[table]
    sql = f'SELECT count(*) FROM "{table}_default" WHERE "{key}" >= $1 AND "{key}" < $2'  # noqa: S608
    return int(str((await _rows(client, sql, month.start, month.following().start))[0][0]))


@dataclass
class EnsureReport:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a month could not be created

    def lines(self) -> list[str]:
        made = ", ".join(self.created) if self.created else "none (all present)"
        return [f"Created partitions: {made}.", *(f"NOT CREATED: {s}" for s in self.skipped)]


async def lock(client: BaseDBAsyncClient) -> None:
    """One worker changes partitions at a time (until its transaction ends); a DDL lock on
    a busy parent is given up after LOCK_TIMEOUT rather than queueing inserts behind it."""
    await client.execute_script(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    await client.execute_script(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")


async def ensure_months(
    client: BaseDBAsyncClient, table: str, months: list[Month], report: EnsureReport
) -> None:
    """Create the missing month partitions of `table` (inside the caller's transaction).

    A month whose rows already went to the default partition is left there and reported:
    PostgreSQL refuses a new partition for rows the default holds, and moving audit rows
    would need the append-only triggers lifted (docs/operations.md says how)."""
    present = set(await monthly_partitions(table, client))
    for month in months:
        if month in present:
            continue
        if held := await _default_holds(client, table, month):
            report.skipped.append(
                f"{month.name(table)}: {held} rows of that month are in {table}_default"
            )
            continue
        await client.execute_script(create_month_sql(table, month))
        report.created.append(month.name(table))


async def ensure(now: datetime | None = None, months_ahead: int = MONTHS_AHEAD) -> EnsureReport:
    """Create this month's and the next `months_ahead` months' partitions of every
    partitioned table; idempotent, and safe from several workers at once."""
    report = EnsureReport()
    if not is_postgres():
        return report
    current = Month.of(now or utcnow())
    wanted = months_between(current, current.following(months_ahead))
    async with in_transaction() as client:
        await lock(client)
        for table in TABLES:
            if await is_partitioned(table, client):
                await ensure_months(client, table, wanted, report)
    if report.created or report.skipped:
        log.info("partitions: %s", " ".join(report.lines()))
    return report


async def drop_months_before(table: str, cutoff: datetime) -> list[str]:
    """Drop every month partition of `table` that ends at or before `cutoff` (whole
    months only). Workers take turns (the advisory lock); the second finds nothing left."""
    if not await is_partitioned(table):
        return []
    dropped: list[str] = []
    async with in_transaction() as client:
        await lock(client)
        for month in await monthly_partitions(table, client):
            if month.following().start <= cutoff:
                await client.execute_script(f'DROP TABLE "{month.name(table)}"')
                dropped.append(month.name(table))
    if dropped:
        log.info("partitions: dropped %s (older than %s)", ", ".join(dropped), cutoff)
    return dropped


@dataclass(frozen=True)
class Pruned:
    rows: int  # rows deleted (SQLite; PostgreSQL's default partition)
    partitions: list[str]  # whole month partitions dropped (PostgreSQL)


async def prune_events(retention: timedelta, now: datetime | None = None) -> Pruned:
    """Event retention. PostgreSQL: drop the month partitions wholly older than the window
    (so an event lives between `retention` and `retention` + one month) and delete expired
    rows from the default partition. SQLite: delete the rows older than the window."""
    cutoff = (now or utcnow()) - retention
    if not await is_partitioned("event"):
        return Pruned(int(await Event.filter(created_at__lt=cutoff).delete()), [])
    dropped = await drop_months_before("event", cutoff)
    sql = 'DELETE FROM "event_default" WHERE created_at < $1'
    deleted, _ = await get_connection("default").execute_query(sql, [cutoff])
    return Pruned(int(deleted), dropped)
