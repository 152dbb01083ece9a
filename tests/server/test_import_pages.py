"""The administrators' import page, driven like a browser without JavaScript: paste a CSV,
preview (nothing written), confirm; refused rows and bad files answer 4xx with a message."""

from __future__ import annotations

import re

import httpx

from feeds.models import AuditRecord, Child, Grant, Professional, Role
from tests.conftest import Factory
from tests.mfa_helpers import hidden, post_form
from tests.server.test_admin_pages import signed_in

REASON = "Taking over the caseload of the old system"


def children_csv(lead: Professional, *extra: str) -> str:
    rows = [
        "reference,display_name,date_of_birth,lead_email,school",
        f"PG-1,Leah Marsh,2016-03-09,{lead.email},Northgate Primary",
        f"PG-2,Tom Reid,2014-11-30,{lead.email},",
        *extra,
    ]
    return "\n".join(rows) + "\n"


def counts(page: str) -> str:
    found = re.search(r'<p id="import-counts">([^<]*)</p>', page)
    assert found, page
    return found.group(1)


async def test_an_administrator_previews_then_imports_children(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    lead = await make.practitioner()
    await signed_in(client, admin)
    assert 'href="/admin/import"' in (await client.get("/")).text
    text = children_csv(lead)
    preview = await post_form(
        client, "/admin/import", "/admin/import/preview", kind="children", reason=REASON, csv=text
    )
    assert preview.status_code == 200
    assert counts(preview.text) == "2 created, 0 changed, 0 unchanged, 0 refused."
    assert await Child.all().count() == 0  # a preview writes nothing
    # The confirm form carries the same file, reason and kind back.
    assert hidden(preview.text, "csv") == text
    confirm = await client.post(
        "/admin/import",
        data={
            "csrftoken": hidden(preview.text, "csrftoken"),
            "kind": "children",
            "reason": REASON,
            "csv": hidden(preview.text, "csv"),
        },
        headers={"origin": "http://testserver"},
    )
    assert confirm.status_code == 200, confirm.text
    assert "Imported: children" in confirm.text
    children = await Child.all().order_by("reference")
    assert [c.reference for c in children] == ["PG-1", "PG-2"]
    assert await Grant.filter(professional_id=lead.id).count() == 2
    records = await AuditRecord.filter(action="import.children").order_by("id")
    assert [r.detail["applied"] for r in records] == [False, True]  # the preview, the import
    record = records[-1]
    assert record.actor_id == admin.id and record.detail["reason"] == REASON


async def test_a_refused_row_or_a_bad_file_imports_nothing_and_says_why(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    lead = await make.practitioner()
    bad = children_csv(lead, "PG-3,Ava Reid,2019-13-01,nobody@example.test,")
    refused = await post_form(
        client, "/admin/import", "/admin/import", kind="children", reason=REASON, csv=bad
    )
    assert refused.status_code == 422
    assert "Nothing was imported" in refused.text and "<td>4</td><td>PG-3</td>" in refused.text
    assert "YYYY-MM-DD" in refused.text and "nobody@example.test" in refused.text
    wrong = await post_form(
        client, "/admin/import", "/admin/import/preview", kind="people", reason=REASON, csv=bad
    )
    assert wrong.status_code == 422 and "Unknown column: reference" in wrong.text
    big = "reference\n" + "x" * 50_000
    too_big = await post_form(
        client, "/admin/import", "/admin/import/preview", kind="children", reason=REASON, csv=big
    )
    assert too_big.status_code == 422 and "jigsaw import" in too_big.text
    assert await Child.all().count() == 0


async def test_only_administrators_import(client: httpx.AsyncClient, make: Factory) -> None:
    manager = await make.professional(role=Role.MANAGER)
    await signed_in(client, manager)
    assert (await client.get("/admin/import")).status_code == 403
    home = await client.get("/children/new")
    refused = await client.post(
        "/admin/import/preview",
        data={
            "csrftoken": hidden(home.text, "csrftoken"),
            "kind": "people",
            "reason": REASON,
            "csv": "email,name,agency\nx@example.test,X,Y\n",
        },
        headers={"origin": "http://testserver"},
    )
    assert refused.status_code == 403
    assert await AuditRecord.filter(action="import.people", outcome="denied").count() == 1
