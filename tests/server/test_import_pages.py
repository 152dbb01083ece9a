"""The administrators' import page, driven like a browser without JavaScript: upload a CSV
file (multipart), preview (nothing written), upload it again to confirm; refused rows and
bad files answer 4xx with a message; a big file's page is streamed with its progress."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from tortoise import connections
from tortoise.exceptions import OperationalError

from feeds import bulk_sql
from feeds.models import AuditRecord, Child, Grant, Professional, Role
from tests.conftest import Factory
from tests.mfa_helpers import hidden
from tests.server.test_admin_pages import signed_in

REASON = "Taking over the caseload of the old system"
ORIGIN = {"origin": "http://testserver"}
MIB = 1024 * 1024


def children_csv(lead: Professional, *extra: str, count: int = 2) -> bytes:
    rows = ["reference,display_name,date_of_birth,lead_email,school"]
    rows += [f"PG-{n},Child {n},2016-03-09,{lead.email},Northgate Primary" for n in range(count)]
    return ("\n".join([*rows, *extra]) + "\n").encode()


def counts(page: str) -> str:
    found = re.search(r'<p id="import-counts">([^<]*)</p>', page)
    assert found, page
    return found.group(1)


async def upload(
    client: httpx.AsyncClient, action: str, data: bytes, name: str = "children.csv", **fields: str
) -> httpx.Response:
    """Load the page, then post its form: the CSRF token first, the file last."""
    token = hidden((await client.get("/admin/import")).text, "csrftoken")
    return await client.post(
        action,
        data={"csrftoken": token, **fields},
        files={"file": (name, data, "text/csv")},
        headers=ORIGIN,
    )


async def preview(client: httpx.AsyncClient, data: bytes, kind: str = "children") -> httpx.Response:
    return await upload(client, "/admin/import/preview", data, kind=kind, reason=REASON)


async def confirm(
    client: httpx.AsyncClient, previewed: httpx.Response, data: bytes
) -> httpx.Response:
    """What the preview's Import button sends: its hidden fields and the file chosen again."""
    fields = {name: hidden(previewed.text, name) for name in ("kind", "previewed")}
    return await upload(client, "/admin/import", data, **fields)


async def test_an_administrator_uploads_previews_then_imports_children(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    lead = await make.practitioner()
    await signed_in(client, admin)
    assert 'href="/admin/import"' in (await client.get("/")).text
    data = children_csv(lead)

    seen = await preview(client, data)

    assert seen.status_code == 200, seen.text
    assert counts(seen.text) == "2 created, 0 changed, 0 unchanged, 0 refused."
    assert "<td>2</td><td>PG-0</td><td>created</td>" in seen.text  # line numbers
    assert await Child.all().count() == 0  # a preview writes nothing
    assert REASON in seen.text and 'enctype="multipart/form-data"' in seen.text

    done = await confirm(client, seen, data)

    assert done.status_code == 200, done.text
    assert "Imported: children" in done.text
    assert [c.reference for c in await Child.all().order_by("reference")] == ["PG-0", "PG-1"]
    assert await Grant.filter(professional_id=lead.id).count() == 2
    records = await AuditRecord.filter(action="import.children").order_by("id")
    assert [r.detail["applied"] for r in records] == [False, True]  # the preview, the import
    assert {(r.actor_id, r.detail["reason"]) for r in records} == {(admin.id, REASON)}
    assert await AuditRecord.filter(action="child.import").count() == 2  # one per child


async def test_the_confirmation_takes_only_the_previewed_file_and_checks_it_again(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    lead = await make.practitioner()
    data = children_csv(lead)
    seen = await preview(client, data)
    other = await confirm(client, seen, children_csv(lead, count=3))
    assert other.status_code == 409 and "not the file you previewed" in other.text
    forged = await upload(client, "/admin/import", data, kind="children", previewed="x.y")
    assert forged.status_code == 409
    wrong_kind = await upload(
        client, "/admin/import", data, kind="people", previewed=hidden(seen.text, "previewed")
    )
    assert wrong_kind.status_code == 409
    # The database moved since the preview: the lead left. The import checks every row again.
    await Professional.filter(id=lead.id).update(is_active=False)
    refused = await confirm(client, seen, data)
    assert refused.status_code == 422
    assert "Nothing was imported" in refused.text and "<td>2</td><td>PG-0</td>" in refused.text
    assert await Child.all().count() == 0


async def test_a_refused_row_or_a_bad_file_imports_nothing_and_says_why(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    lead = await make.practitioner()
    bad = children_csv(lead, "PG-9,Ava Reid,2019-13-01,nobody@example.test,")
    refused = await preview(client, bad)
    assert refused.status_code == 200  # a preview that found problems
    assert "<td>4</td><td>PG-9</td><td>refused</td>" in refused.text
    assert "YYYY-MM-DD" in refused.text and 'name="previewed"' not in refused.text
    answers = {
        "people": await preview(client, bad, kind="people"),
        "latin-1": await preview(client, "reference\nZoë\n".encode("latin-1")),
        "workbook": await preview(client, b"PK\x03\x04\x14\x00\x00\x00\x08\x00"),
        "empty": await preview(client, b""),
        "none": await upload(client, "/admin/import/preview", b"", "", kind="children"),
    }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 422)
    assert "Unknown column: reference" in answers["people"].text
    assert "not UTF-8" in answers["latin-1"].text
    assert "not a CSV file" in answers["workbook"].text
    assert "The file is empty" in answers["empty"].text
    assert "Choose a CSV file" in answers["none"].text  # what a browser sends for no file
    no_kind = await upload(client, "/admin/import/preview", bad, kind="pets", reason=REASON)
    assert no_kind.status_code == 422 and "Choose children or people" in no_kind.text
    assert await Child.all().count() == 0


async def test_a_file_over_the_limit_is_refused_while_it_is_read(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    lead = await make.practitioner()
    big = children_csv(lead) + b"#" * (21 * MIB)
    declared = await preview(client, big)  # Content-Length says so: refused unread
    assert declared.status_code == 413 and "at most 20 MiB" in declared.text
    assert "<html" in declared.text.lower()  # the page, with the message

    token = hidden((await client.get("/admin/import")).text, "csrftoken")
    body, content_type = multipart_body(token, big)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for start in range(0, len(body), MIB):
            yield body[start : start + MIB]

    counted = await client.post(
        "/admin/import/preview",
        content=chunks(),
        headers={**ORIGIN, "content-type": content_type},
    )
    assert counted.status_code == 413 and "at most 20 MiB" in counted.text
    assert await Child.all().count() == 0


def multipart_body(token: str, data: bytes) -> tuple[bytes, str]:
    request = httpx.Request(
        "POST",
        "http://testserver/",
        data={"csrftoken": token, "kind": "children", "reason": REASON},
        files={"file": ("big.csv", data, "text/csv")},
    )
    return request.read(), request.headers["content-type"]


async def test_an_upload_needs_the_pages_csrf_token(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    data = children_csv(await make.practitioner())
    fields = {"kind": "children", "reason": REASON}
    files = {"file": ("children.csv", data, "text/csv")}
    missing = await client.post("/admin/import/preview", data=fields, files=files, headers=ORIGIN)
    assert missing.status_code == 403 and "CSRF token is missing" in missing.text
    token = hidden((await client.get("/admin/import")).text, "csrftoken")
    wrong = {**fields, "csrftoken": token[:-2] + "xé"}
    forged = await client.post("/admin/import/preview", data=wrong, files=files, headers=ORIGIN)
    assert forged.status_code == 403
    cross = await client.post(
        "/admin/import/preview",
        data={**fields, "csrftoken": token},
        files=files,
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert await Child.all().count() == 0
    assert await AuditRecord.filter(action="import.children").count() == 0


async def test_only_the_upload_routes_take_multipart_or_big_bodies(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    token = hidden((await client.get("/admin/import")).text, "csrftoken")
    files = {"file": ("a.csv", b"x", "text/csv")}
    elsewhere = await client.post(
        "/children/new", data={"csrftoken": token}, files=files, headers=ORIGIN
    )
    assert elsewhere.status_code == 415
    as_form = await client.post(
        "/admin/import/preview",
        data={"csrftoken": token, "csv": "x" * (70 * 1024)},
        headers=ORIGIN,
    )
    assert as_form.status_code == 413  # a URL-encoded body keeps the 64 KiB limit
    garbled = await client.post(
        "/admin/import/preview",
        content=b"--b\r\nnonsense without headers\r\n\r\n--b--",
        headers={**ORIGIN, "content-type": "multipart/form-data; boundary=b"},
    )
    assert garbled.status_code in (400, 403), garbled.text  # never a 500
    no_boundary = await client.post(
        "/admin/import/preview",
        content=b"x",
        headers={**ORIGIN, "content-type": "multipart/form-data"},
    )
    assert no_boundary.status_code == 415


async def test_only_administrators_import(client: httpx.AsyncClient, make: Factory) -> None:
    manager = await make.professional(role=Role.MANAGER)
    await signed_in(client, manager)
    assert (await client.get("/admin/import")).status_code == 403
    token = hidden((await client.get("/children/new")).text, "csrftoken")
    data = b"email,name,agency\nx@example.test,X,Y\n"
    refused = await client.post(
        "/admin/import/preview",
        data={"csrftoken": token, "kind": "people", "reason": REASON},
        files={"file": ("people.csv", data, "text/csv")},
        headers=ORIGIN,
    )
    assert refused.status_code == 403
    confirmed = await client.post(
        "/admin/import",
        data={"csrftoken": token, "kind": "people", "previewed": "x"},
        files={"file": ("people.csv", data, "text/csv")},
        headers=ORIGIN,
    )
    assert confirmed.status_code == 403
    assert await AuditRecord.filter(action="import.people", outcome="denied").count() == 2
    assert await Professional.filter(email="x@example.test").count() == 0


async def test_a_big_file_streams_its_progress_then_its_report(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    data = children_csv(await make.practitioner(), count=2_500)

    seen = await preview(client, data)

    assert seen.status_code == 200 and seen.headers["x-accel-buffering"] == "no"
    assert '<ol class="import-progress"' in seen.text
    assert "Checking rows: 1,000 of 2,500" in seen.text
    assert "Checking rows: 2,500 of 2,500" in seen.text
    assert counts(seen.text) == "2500 created, 0 changed, 0 unchanged, 0 refused."
    assert seen.text.rstrip().endswith("</html>")

    done = await confirm(client, seen, data)

    assert done.status_code == 200
    assert "Writing" in done.text and "Imported: children" in done.text
    assert await Child.all().count() == 2_500


FAIL_GRANTS = {  # the database refuses the import's grants: a failure after children are in
    "sqlite": [
        'CREATE TRIGGER fail_grants BEFORE INSERT ON "grant" '
        "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
    ],
    "postgres": [
        "CREATE FUNCTION fail_grants() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the disk is full'; END $$",
        'CREATE TRIGGER fail_grants BEFORE INSERT ON "grant" '
        "FOR EACH STATEMENT EXECUTE FUNCTION fail_grants()",
    ],
}
UNFAIL_GRANTS = {
    "sqlite": ["DROP TRIGGER IF EXISTS fail_grants"],
    "postgres": [
        'DROP TRIGGER IF EXISTS fail_grants ON "grant"',
        "DROP FUNCTION IF EXISTS fail_grants()",
    ],
}


async def _run_sql(statements: list[str]) -> None:
    for sql in statements:
        await connections.get("default").execute_script(sql)


async def test_a_big_import_that_fails_while_writing_says_so_and_writes_nothing(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Streamed pages are 200 once the progress has begun; the page itself says the import
    failed and that nothing was written, and nothing was (one transaction)."""
    await signed_in(client, await make.professional(role=Role.ADMIN))
    data = children_csv(await make.practitioner(), count=2_500)
    seen = await preview(client, data)
    grants = await Grant.all().count()
    dialect = connections.get("default").capabilities.dialect
    await _run_sql(FAIL_GRANTS[dialect])
    try:
        done = await confirm(client, seen, data)
    finally:
        await _run_sql(UNFAIL_GRANTS[dialect])

    assert done.status_code == 200 and "Writing" in done.text  # streamed
    assert 'id="import-failed"' in done.text and "nothing was imported" in done.text
    assert "Imported: children" not in done.text and "the disk is full" not in done.text
    assert done.text.rstrip().endswith("</html>")
    assert await Child.all().count() == 0 and await Grant.all().count() == grants
    applied = await AuditRecord.filter(action="import.children", outcome="ok").values("detail")
    assert [r["detail"]["applied"] for r in applied] == [False]  # only the preview's record


async def test_statistics_failing_after_the_commit_do_not_report_a_written_import_as_failed(
    client: httpx.AsyncClient, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ANALYZE runs after the import's transaction has committed: if it fails, the import
    is still written, and the page must not say "nothing was imported"."""

    async def refused(*_tables: str) -> None:
        raise OperationalError("canceling statement due to lock timeout")

    monkeypatch.setattr(bulk_sql, "analyze", refused)
    await signed_in(client, await make.professional(role=Role.ADMIN))
    data = children_csv(await make.practitioner())
    done = await confirm(client, await preview(client, data), data)
    assert done.status_code == 200 and "Imported: children" in done.text
    assert "nothing was imported" not in done.text
    assert await Child.all().count() == 2
