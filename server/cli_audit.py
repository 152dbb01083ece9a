"""`jigsaw audit archive --before YYYY-MM`: take old audit months out of the database
(PostgreSQL; feeds/audit/archive.py). `jigsaw audit verify` then starts from the signed
anchor it leaves. On SQLite it refuses: archiving detaches monthly partitions."""

from __future__ import annotations

import re
from pathlib import Path

import click

from feeds.audit.archive import POSTGRES_ONLY, Archived, ArchiveRefused, do_archive
from feeds.partitions import Month

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _month(ctx: click.Context, param: click.Parameter, value: str) -> Month:
    matched = _MONTH.match(value.strip())
    if not matched or not 1 <= int(matched[2]) <= 12:
        raise click.BadParameter("a month as YYYY-MM, e.g. 2025-01")
    return Month(int(matched[1]), int(matched[2]))


@click.command("archive")
@click.option(
    "--before",
    required=True,
    callback=_month,
    help="Archive every month before this one (YYYY-MM); never the current month.",
)
@click.option(
    "--to",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the CSV exports go (default: <data dir>/audit-archive).",
)
def archive_command(before: Month, directory: Path | None) -> None:
    """Verify the log, export the months before --before (one CSV each, SHA-256 in the
    anchor), store a signed anchor and detach the months from audit_record (PostgreSQL).

    The detached months stay in the database as audit_archive_pYYYY_MM tables: drop them
    once the files are on write-once storage (docs/operations.md)."""
    import getpass

    from feeds.audit import keys
    from feeds.errors import DomainError
    from server.cli import _audit_settings, run_with_db

    settings = _audit_settings()  # no JIGSAW_SECRET_KEY needed, as for verify
    if settings.is_sqlite:
        raise click.ClickException(POSTGRES_ONLY)
    configured = str(settings.audit_signing_key or "")
    if not configured.strip() and not (settings.data_dir / keys.GENERATED_NAME).is_file():
        raise click.ClickException("No audit signing key: set JIGSAW_AUDIT_SIGNING_KEY.")
    try:
        key = keys.signing_key(configured, settings.data_dir)
    except (DomainError, ValueError) as error:
        raise click.ClickException(f"Cannot read the key: {error}") from None
    target = directory or settings.data_dir / "audit-archive"

    async def work() -> Archived | ArchiveRefused:
        try:
            return await do_archive(
                before, key, settings.audit_checkpoint_path, target, getpass.getuser()
            )
        except ArchiveRefused as refused:
            return refused

    done = run_with_db(settings, work)
    if isinstance(done, ArchiveRefused):
        raise click.ClickException(done.message)
    anchor = done.anchor
    for name, digest in anchor.files.items():
        click.echo(f"Exported {target / name}  sha256 {digest}")
    click.echo(
        f"Archived {anchor.rows} records (seq {anchor.first_seq} to {anchor.seq}) of"
        f" {', '.join(anchor.months)}; signed anchor stored; `jigsaw audit verify` starts"
        f" from seq {anchor.seq}."
    )
    click.echo(
        f"Detached, still in the database: {', '.join(done.tables)}. Drop them once the"
        " files are on write-once storage."
    )
