"""Free-text reasons withhold a shielded child's name from those who may not read it, as
post text does: the break-glass reason (administrators' review, page and API), the reason
of a request to join (the managers who decide) and of its refusal (the requester), the
shield's reason and every other reason in an audit record's detail (the child's audit for
its managers, the whole log and its CSV for administrators), and a merge's reason. Who
identifies the child (a direct personal grant) reads each as written (the positive control).
The stored text is untouched."""

from __future__ import annotations

import httpx

from feeds.access.identity import WITHHELD
from feeds.audit.actions import AuditAction
from feeds.models import AuditRecord, BreakGlass, Professional
from feeds.network.models import AccessRequest
from server.auth import issue_token
from tests.conftest import Factory
from tests.server.test_shielded import NAME, REFERENCE, World, build

FIRST = NAME.split()[0]  # "Juniper": a part of the name is withheld on its own too
NAMING = f"Police asking where {FIRST} is staying tonight"


async def auth(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


def withheld(text: str) -> bool:
    """The name and reference are absent, and something was withheld in their place."""
    return FIRST not in text and REFERENCE not in text and WITHHELD in text


async def test_a_break_glass_reason_naming_the_child_is_withheld_from_administrators(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    opened = await client.post(
        f"/api/v1/children/{w.child.id}/break-glass",
        json={"reason": NAMING},
        headers=await w.auth("stranger"),
    )
    assert opened.status_code == 201, opened.text
    listed = await client.get("/api/v1/break-glass", headers=await w.auth("admin"))
    assert listed.status_code == 200
    assert listed.json()["break_glass"][0]["reason"] == NAMING.replace(FIRST, WITHHELD)
    page = await client.get("/admin/break-glass", headers=await w.auth("admin"))
    assert page.status_code == 200 and withheld(page.text)
    assert (await BreakGlass.get(child_id=w.child.id)).reason == NAMING  # stored as written


async def test_a_request_reason_is_withheld_from_a_manager_and_shown_to_the_lead(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    asker = await make.professional()
    body = {"reference": REFERENCE, "role": "school nurse", "reason": f"{NAME} is in my school"}
    assert (
        await client.post("/api/v1/access-requests", json=body, headers=await auth(asker))
    ).status_code == 202
    manager = await client.get("/api/v1/access-requests", headers=await w.auth("manager"))
    (seen,) = manager.json()["access_requests"]
    assert seen["reason"] == f"{WITHHELD} is in my school"
    page = await client.get("/access-requests", headers=await w.auth("manager"))
    assert page.status_code == 200 and withheld(page.text)
    lead = await client.get("/api/v1/access-requests", headers=await w.auth("lead"))
    assert lead.json()["access_requests"][0]["reason"] == body["reason"]


async def test_a_refusal_naming_the_child_is_withheld_from_the_requester(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    asker = await make.professional()
    body = {"reference": REFERENCE, "role": "school nurse", "reason": "Health checks needed"}
    await client.post("/api/v1/access-requests", json=body, headers=await auth(asker))
    request = await AccessRequest.get(requester_id=asker.id)
    declined = await client.post(
        f"/api/v1/access-requests/{request.id}/decline",
        json={"reason": f"{FIRST}'s mother has asked us to keep the circle small"},
        headers=await w.auth("lead"),
    )
    assert declined.status_code == 200, declined.text
    mine = await client.get("/api/v1/access-requests/mine", headers=await auth(asker))
    (answer,) = mine.json()["access_requests"]
    assert answer["decline_reason"] == f"{WITHHELD}'s mother has asked us to keep the circle small"
    page = await client.get("/access-requests", headers=await auth(asker))
    assert page.status_code == 200  # it shows back the reference they typed, and no name
    assert FIRST not in page.text and f"{WITHHELD}&#39;s mother" in page.text


async def test_audit_details_withhold_the_name_from_managers_and_administrators(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make, shielded=False)
    why = f"{NAME} and her mother moved to a refuge"
    shielded = await client.post(
        f"/api/v1/children/{w.child.id}/shield", json={"reason": why}, headers=await w.auth("lead")
    )
    assert shielded.status_code == 200, shielded.text
    assert (await AuditRecord.get(action=AuditAction.CHILD_SHIELD)).detail["reason"] == why
    path = f"/api/v1/children/{w.child.id}/audit"
    manager = await client.get(path, headers=await w.auth("manager"))
    assert manager.status_code == 200 and withheld(manager.text)
    lead = await client.get(path, headers=await w.auth("lead"))
    assert why in lead.text  # a direct grant reads it as written
    admin = await client.get(f"/api/v1/audit?child={w.child.id}", headers=await w.auth("admin"))
    assert admin.status_code == 200 and withheld(admin.text)
    csv = await client.get(f"/api/v1/audit.csv?child={w.child.id}", headers=await w.auth("admin"))
    assert csv.status_code == 200 and withheld(csv.text)


async def test_a_merge_reason_naming_a_shielded_child_is_withheld_from_administrators(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w: World = await build(make)
    survivor, duplicate = await make.child(), await make.child()
    manager = await make.manager_of(survivor, duplicate)
    merged = await client.post(
        f"/api/v1/children/{survivor.id}/merge",
        json={"merged_reference": duplicate.reference, "reason": f"Same family as {NAME}"},
        headers=await auth(manager),
    )
    assert merged.status_code == 201, merged.text
    listed = await client.get("/api/v1/admin/merges", headers=await w.auth("admin"))
    assert listed.json()["merges"][0]["reason"] == f"Same family as {WITHHELD}"
    page = await client.get("/admin/merges", headers=await w.auth("admin"))
    assert page.status_code == 200 and withheld(page.text)
