"""The lead professional records where the child is seen (school and area) without a
manager's authority over the whole record; history is kept either way."""

from __future__ import annotations

import httpx

from feeds.models import AuditRecord, Child, ChildRevision
from tests.conftest import Factory, api_login


async def test_the_lead_sets_school_and_area_from_the_child_page(
    client: httpx.AsyncClient, make: Factory
) -> None:
    lead = await make.practitioner()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    await api_login(client, lead.email)

    page = (await client.get(f"/children/{child.id}")).text
    saved = await client.post(
        f"/children/{child.id}/whereabouts",
        data={
            "school": "Oak Primary",
            "area": "Northgate",
            "csrftoken": client.cookies.get("csrftoken", ""),
        },
    )

    assert f'action="/children/{child.id}/whereabouts"' in page
    assert saved.status_code == 303
    stored = await Child.get(id=child.id)
    assert (stored.school, stored.area) == ("Oak Primary", "Northgate")
    assert await ChildRevision.filter(child_id=child.id, change="edit").count() == 1
    assert (
        await AuditRecord.filter(action="child.edit", actor_id=lead.id, outcome="ok").count() == 1
    )


async def test_the_lead_may_not_change_anything_else_and_others_may_not_at_all(
    client: httpx.AsyncClient, make: Factory
) -> None:
    lead = await make.practitioner()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    colleague = await make.practitioner(grants=[child])

    await api_login(client, lead.email)
    renamed = await client.patch(f"/api/v1/children/{child.id}", json={"display_name": "X"})
    placed = await client.patch(f"/api/v1/children/{child.id}", json={"school": "Elm"})
    await client.post("/logout")
    await api_login(client, colleague.email)
    refused = await client.patch(f"/api/v1/children/{child.id}", json={"area": "South"})

    assert renamed.status_code == 403 and placed.status_code == 200
    assert refused.status_code == 403
    assert (
        f'action="/children/{child.id}/whereabouts"'
        not in (await client.get(f"/children/{child.id}")).text
    )
    stored = await Child.get(id=child.id)
    assert (stored.display_name, stored.school, stored.area) == (child.display_name, "Elm", "")
