"""Every import attempt is audited with its outcome, the failed ones too: a confirmation
refused (another file, a forged preview), rows refused when the import is checked again,
a failure while writing (its own record went with the rolled-back transaction), and, at
the shell, a `--by` that names no administrator. Through the admin page and `jigsaw import`,
on both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from tortoise import connections

from feeds.csv_import import digest
from feeds.models import AuditRecord, Child, Professional, Role
from tests.conftest import Factory
from tests.server.test_admin_pages import signed_in
from tests.server.test_cli_setup import query, shell
from tests.server.test_import_cli import ADMIN, CHILDREN, REASON, Shell, organisation, write
from tests.server.test_import_pages import (
    FAIL_GRANTS,
    UNFAIL_GRANTS,
    _run_sql,
    children_csv,
    confirm,
    preview,
    upload,
)

__all__ = ["organisation", "shell"]  # fixtures


async def _imports(action: str = "import.children") -> list[dict[str, Any]]:
    rows = AuditRecord.filter(action=action).order_by("id")
    return await rows.values("actor_id", "actor_email", "outcome", "detail")


async def test_a_confirmed_import_that_fails_while_writing_is_audited_as_failed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    await signed_in(client, admin)
    data = children_csv(await make.practitioner())
    seen = await preview(client, data)
    dialect = connections.get("default").capabilities.dialect
    await _run_sql(FAIL_GRANTS[dialect])
    try:
        done = await confirm(client, seen, data)
    finally:
        await _run_sql(UNFAIL_GRANTS[dialect])

    assert done.status_code in (409, 500) and "nothing was imported" in done.text
    assert "the disk is full" not in done.text
    assert await Child.all().count() == 0
    preview_record, attempt = await _imports()
    assert preview_record["outcome"] == "ok" and preview_record["detail"]["dry_run"] is True
    assert attempt["outcome"] == "failed" and attempt["actor_id"] == admin.id
    assert attempt["detail"]["applied"] is False and attempt["detail"]["dry_run"] is False
    assert attempt["detail"]["sha256"] == digest(data)
    assert "disk" not in str(attempt["detail"])  # the database's words stay in the log


async def test_a_refused_confirmation_is_audited_as_failed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    await signed_in(client, admin)
    lead = await make.practitioner()
    data, other = children_csv(lead), children_csv(lead, count=3)
    seen = await preview(client, data)
    assert (await confirm(client, seen, other)).status_code == 409
    forged = await upload(client, "/admin/import", data, kind="children", previewed="x.y")
    assert forged.status_code == 409
    # The database moved since the preview: the lead left, so every row is refused now.
    await Professional.filter(id=lead.id).update(is_active=False)
    assert (await confirm(client, seen, data)).status_code == 422

    _, wrong_file, forged_record, refused = await _imports()
    assert [wrong_file["outcome"], forged_record["outcome"]] == ["failed", "failed"]
    assert wrong_file["detail"]["sha256"] == digest(other)
    assert "not the file you previewed" in wrong_file["detail"]["error"]
    assert refused["outcome"] == "failed" and refused["detail"]["applied"] is False
    assert refused["detail"]["counts"]["refused"] == 2


async def test_a_bad_file_at_confirmation_is_audited_as_failed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """A preview of a bad file is a failed attempt too (nothing could be checked)."""
    await signed_in(client, await make.professional(role=Role.ADMIN))
    bad = await preview(client, b"PK\x03\x04\x14\x00\x00\x00\x08\x00")
    assert bad.status_code == 422
    (record,) = await _imports()
    assert record["outcome"] == "failed" and "not a CSV file" in record["detail"]["error"]


def test_a_failed_or_refused_import_at_the_shell_is_audited(
    organisation: Shell, tmp_path: Path, database_url: str
) -> None:
    path = write(tmp_path, CHILDREN)
    lead = organisation("import", "children", path, "--by", "lead@example.test", "--reason", REASON)
    assert lead.exit_code == 1
    query(database_url, lambda: _run_sql(FAIL_GRANTS[_dialect(database_url)]))
    try:
        failed = organisation("import", "children", path, "--by", ADMIN, "--reason", REASON)
    finally:
        query(database_url, lambda: _run_sql(UNFAIL_GRANTS[_dialect(database_url)]))
    assert failed.exit_code != 0 and query(database_url, lambda: Child.all().count()) == 0

    by_lead, by_admin = query(database_url, _imports)
    assert by_lead["outcome"] == "denied" and by_lead["actor_email"] == "lead@example.test"
    assert by_lead["actor_id"] is None and by_lead["detail"]["applied"] is False
    assert by_admin["outcome"] == "failed" and by_admin["actor_email"] == ADMIN
    assert by_admin["detail"]["sha256"] == digest(CHILDREN.encode())


def _dialect(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgres"
