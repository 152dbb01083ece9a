"""`jigsaw import children FILE.csv` and `jigsaw import people FILE.csv`: bulk import,
acting as a named administrator (`--by`) for a stated reason (`--reason`), both in every
audit record the import writes. `--dry-run` reports and changes nothing."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from feeds import import_audit
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.csv_import import MAX_FILE_BYTES, Importer, Outcome, Report
from feeds.models import Professional, Role
from server.cli_progress import StageBars

CONTEXT = AuditContext(ip="", request_id="cli-import")
SHOWN = 200  # refused rows printed; the counts say how many there were


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(
            f"{path} is too big: at most {MAX_FILE_BYTES // (1024 * 1024)} MiB. Split it."
        )
    return path.read_bytes()


async def _administrator(email: str) -> Professional:
    person = await Professional.get_or_none(email=email.strip().lower(), is_active=True)
    if person is None or person.role != Role.ADMIN:
        raise click.ClickException(f"{email} is not an active administrator's email.")
    return person


async def _importer(email: str, action: AuditAction, data: bytes) -> Professional:
    """The administrator named by --by; anyone else is refused, the attempt audited."""
    try:
        return await _administrator(email)
    except click.ClickException:
        said, denied = "--by names no active administrator", AuditOutcome.DENIED
        await import_audit.record_failed(
            action, CONTEXT, data, said, actor_email=email, outcome=denied
        )
        raise


def _print(report: Report) -> None:
    for row in report.rows:
        if row.outcome == Outcome.CHANGED:
            click.echo(f"line {row.line}: {row.key}: changes {row.detail}")
    for row in report.refused[:SHOWN]:
        click.echo(f"line {row.line}: {row.key or '(blank)'}: refused: {row.detail}", err=True)
    if len(report.refused) > SHOWN:
        click.echo(f"... and {len(report.refused) - SHOWN} more refused rows.", err=True)
    click.echo(f"{report.kind.capitalize()}: {report.summary()}.")


def _run_import(
    importer: Importer, action: AuditAction, path: Path, by: str, reason: str, dry_run: bool
) -> None:
    from server.cli import _settings, run_with_db

    data = _read(path)

    async def work() -> Report:
        actor = await _importer(by, action, data)
        bars = StageBars(file=sys.stderr)
        try:
            return await importer(actor, data, reason, CONTEXT, dry_run=dry_run, progress=bars)
        finally:
            bars.close()

    report = run_with_db(_settings(), work)
    _print(report)
    if dry_run:
        click.echo("Dry run: nothing was changed.")
    elif not report.applied:
        raise click.ClickException("Nothing was imported: correct the refused rows and run again.")
    else:
        click.echo(f"Imported {path.name} (SHA-256 {report.sha256}).")


def _options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option(
        "--dry-run", is_flag=True, help="Report what would be created, changed and refused."
    )(command)
    command = click.option(
        "--reason", required=True, help="Why (10-500 characters; kept in the audit)."
    )(command)
    command = click.option(
        "--by", "by", required=True, help="Email of the administrator making the import."
    )(command)
    return click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))(
        command
    )


@click.group("import")
def import_group() -> None:
    """Bulk import from CSV files (columns: docs/operations.md)."""


@import_group.command("children")
@_options
def import_children(file: Path, by: str, reason: str, dry_run: bool) -> None:
    """Create or update children's records, matched by reference."""
    from feeds.records.importing import do_import_children

    _run_import(do_import_children, AuditAction.IMPORT_CHILDREN, file, by, reason, dry_run)


@import_group.command("people")
@_options
def import_people(file: Path, by: str, reason: str, dry_run: bool) -> None:
    """Create or update professionals' accounts, matched by email."""
    from feeds.organisation.importing import do_import_people

    _run_import(do_import_people, AuditAction.IMPORT_PEOPLE, file, by, reason, dry_run)
