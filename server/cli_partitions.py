"""`jigsaw partitions ensure` and `jigsaw partitions list`: the monthly time partitions of
`event` and `audit_record` on PostgreSQL (feeds/partitions.py). The app runs `ensure` at
start and daily; these are for operators and cron. On SQLite there is nothing to do."""

from __future__ import annotations

import click

from feeds import partitions


@click.group("partitions")
def partitions_group() -> None:
    """Monthly time partitions of the event and audit tables (PostgreSQL)."""


@partitions_group.command("ensure")
@click.option(
    "--months-ahead",
    default=partitions.MONTHS_AHEAD,
    show_default=True,
    type=click.IntRange(0, 24),
    help="Create partitions up to this many months after the current one.",
)
def ensure(months_ahead: int) -> None:
    """Create this month's and the coming months' partitions (idempotent)."""
    from server.cli import _settings, run_with_db

    async def work() -> partitions.EnsureReport | None:
        if not partitions.is_postgres():
            return None
        return await partitions.ensure(months_ahead=months_ahead)

    report = run_with_db(_settings(), work)
    if report is None:
        click.echo("SQLite has no partitions: nothing to do.")
        return
    for line in report.lines():
        click.echo(line, err=line.startswith("NOT"))
    if report.skipped:
        raise SystemExit(1)


@partitions_group.command("list")
def list_partitions() -> None:
    """Each partitioned table and the months it has a partition for."""
    from server.cli import _settings, run_with_db

    async def work() -> dict[str, list[partitions.Month]]:
        return {
            table: await partitions.monthly_partitions(table)
            for table in partitions.TABLES
            if await partitions.is_partitioned(table)
        }

    found = run_with_db(_settings(), work)
    if not found:
        click.echo("No partitioned tables (SQLite, or not migrated).")
    for table, months in found.items():
        span = f"{months[0].name(table)} .. {months[-1].name(table)}" if months else "none"
        click.echo(f"{table}: {len(months)} monthly partitions ({span}) and {table}_default")
