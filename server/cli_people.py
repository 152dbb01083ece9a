"""`jigsaw people sign-in-links`: a one-time sign-in link for each person without a usable
password (just imported, or named in a file), written as CSV (email, link) to pass on.
Each link is made and audited as if the named administrator (`--by`) made it on the people
page; making one replaces that person's older link."""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path

import click

from feeds.accounts import sign_in_links as links
from feeds.audit.records import AuditContext
from feeds.errors import DomainError
from feeds.models import Professional
from server.auth import may_use_password
from server.cli_import import _administrator
from server.routes.sign_in_links import link_path, site_base
from server.settings import Settings

CONTEXT = AuditContext(ip="", request_id="cli-sign-in-links")
MAX_EMAILS_FILE = 5 * 1024 * 1024


def read_emails(path: Path) -> list[str]:
    """Emails from a file: one a line, or a CSV with an `email` column (an import file)."""
    if path.stat().st_size > MAX_EMAILS_FILE:
        raise click.ClickException(f"{path} is too big for a list of emails.")
    text = path.read_text(encoding="utf-8-sig")
    first = text.splitlines()[0] if text.strip() else ""
    if "," in first and "email" in [c.strip().lower() for c in first.split(",")]:
        rows = csv.DictReader(io.StringIO(text))
        rows.fieldnames = [name.strip().lower() for name in rows.fieldnames or []]
        return [row["email"].strip() for row in rows if (row.get("email") or "").strip()]
    return [line.strip() for line in text.splitlines() if line.strip()]


async def _make_links(
    settings: Settings, by: str, emails: list[str] | None, base: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """(email, link) rows made, and why the others got none."""
    actor = await _administrator(by)
    people = await links.without_password(emails)
    made: list[tuple[str, str]] = []
    skipped = [f"{e}: no active account without a password" for e in _missing(emails, people)]
    for person in people:
        try:
            new = await links.do_create_link(
                actor,
                person.id,
                lambda p: may_use_password(p, settings.local_passwords),
                CONTEXT,
            )
        except DomainError as error:
            skipped.append(f"{person.email}: {error.message}")
            continue
        made.append((person.email, base + link_path(new.token)))
    return made, skipped


def _missing(emails: list[str] | None, people: list[Professional]) -> list[str]:
    found = {person.email for person in people}
    return sorted({e.strip().lower() for e in emails or []} - found)


def _write(rows: list[tuple[str, str]], out: Path | None) -> None:
    """CSV to `out` (readable by its owner only: the links are live) or to stdout."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["email", "link"])
    writer.writerows(rows)
    if out is None:
        sys.stdout.write(buffer.getvalue())
        return
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(buffer.getvalue())


@click.group("people")
def people_group() -> None:
    """People's accounts from the shell."""


@people_group.command("sign-in-links")
@click.option("--by", "by", required=True, help="Email of the administrator making the links.")
@click.option(
    "--emails",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="A file of emails (one a line, or a CSV with an email column, such as the import file).",
)
@click.option(
    "--new-only", is_flag=True, help="Everyone without a password who never had a link yet."
)
@click.option("--base-url", help="This site's address (default: first JIGSAW_ALLOWED_ORIGINS).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the CSV here (only you can read it) instead of to the screen.",
)
def sign_in_links(
    by: str, emails: Path | None, new_only: bool, base_url: str | None, out: Path | None
) -> None:
    """A one-time sign-in link (72 hours) for each person without a usable password."""
    from server.cli import _settings, run_with_db

    if (emails is None) == (not new_only):
        raise click.UsageError("Give exactly one of --emails FILE or --new-only.")
    settings = _settings()
    if not base_url and not settings.allowed_origins:
        raise click.UsageError("Give --base-url (or set JIGSAW_ALLOWED_ORIGINS).")
    base = base_url.rstrip("/") if base_url else site_base(settings, "")
    wanted = read_emails(emails) if emails is not None else None
    made, skipped = run_with_db(settings, lambda: _make_links(settings, by, wanted, base))
    for reason in skipped:
        click.echo(f"no link: {reason}", err=True)
    _write(made, out)
    click.echo(f"{len(made)} sign-in links made, valid 72 hours.", err=True)
