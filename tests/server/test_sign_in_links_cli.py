"""`jigsaw people sign-in-links`: after `jigsaw import people`, one link per person without
a usable password, as CSV (email, link); each link works, and nobody with a password or
a link already (with --new-only) gets another."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from feeds.accounts.sign_in_link_model import SignInLink
from feeds.models import AuditRecord, Professional
from server.auth import digest
from tests.server.test_cli_setup import ok, query, shell  # noqa: F401 - fixture
from tests.server.test_import_cli import (  # noqa: F401 - fixture
    ADMIN,
    PEOPLE,
    Shell,
    organisation,
    run_import,
    write,
)

BASE = "https://jigsaw.northgate.example"


def links(shell: Shell, *options: str) -> dict[str, str]:  # noqa: F811
    out = ok(shell("people", "sign-in-links", "--by", ADMIN, "--base-url", BASE, *options))
    return _rows(out.split("email,link\n", 1)[1] if "email,link" in out else "")


def _rows(text: str) -> dict[str, str]:
    return {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if row and "@" in row[0]}


def test_imported_people_get_one_link_each_and_only_once(
    organisation: Shell,  # noqa: F811 - the fixture
    tmp_path: Path,
    database_url: str,
) -> None:
    ok(run_import(organisation, "people", write(tmp_path, PEOPLE)))
    first = links(organisation, "--new-only")
    assert set(first) == {"sam.patel@example.test", "jo@example.test", "ali@example.test"}
    assert all(link.startswith(BASE + "/welcome/") for link in first.values())
    assert links(organisation, "--new-only") == {}  # nobody new since
    token = first["jo@example.test"].rsplit("/", 1)[1]

    async def check() -> None:
        link = await SignInLink.get(token_hash=digest(token)).select_related("professional")
        assert link.professional.email == "jo@example.test" and link.used_at is None
        made = await AuditRecord.filter(action="sign_in_link.create", outcome="ok").count()
        admin = await Professional.get(email=ADMIN)
        assert (
            made == 3
            and not await AuditRecord.exclude(actor_id=admin.id)
            .filter(action="sign_in_link.create")
            .exists()
        )

    query(database_url, check)


def test_links_for_listed_emails_replace_older_ones_and_skip_people_with_passwords(
    organisation: Shell,  # noqa: F811 - the fixture
    tmp_path: Path,
    database_url: str,
) -> None:
    people = write(tmp_path, PEOPLE)
    ok(run_import(organisation, "people", people))
    older = links(organisation, "--new-only")
    out = tmp_path / "links.csv"
    result = organisation(
        "people", "sign-in-links", "--by", ADMIN, "--base-url", BASE,
        "--emails", people, "--out", str(out),
    )  # fmt: skip
    ok(result)
    again = _rows(out.read_text())
    assert set(again) == set(older) and not set(again.values()) & set(older.values())
    assert os.stat(out).st_mode & 0o077 == 0  # live links: readable by the operator only
    listed = write(tmp_path, f"{ADMIN}\nnobody@example.test\n", "emails.txt")
    result = organisation("people", "sign-in-links", "--by", ADMIN, "--base-url", BASE,
                          "--emails", listed)  # fmt: skip
    assert result.exit_code == 0 and _rows(result.stdout) == {}
    assert f"{ADMIN}: no active account without a password" in result.stderr

    async def open_links() -> int:
        return await SignInLink.filter(revoked_at__isnull=True).count()

    assert query(database_url, open_links) == 3


def test_the_command_wants_one_choice_and_an_administrator(
    organisation: Shell,  # noqa: F811 - the fixture
) -> None:
    both = organisation("people", "sign-in-links", "--by", ADMIN, "--base-url", BASE)
    assert both.exit_code == 2 and "exactly one of --emails FILE or --new-only" in both.output
    lead = organisation(
        "people", "sign-in-links", "--by", "lead@example.test", "--base-url", BASE, "--new-only"
    )
    assert lead.exit_code == 1 and "not an active administrator" in lead.output
