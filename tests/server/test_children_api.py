"""Children's records through the JSON API: create (the lead gets a grant), edit with
history, close (read-only, grants end) and reopen, and who may do each."""

from __future__ import annotations

from typing import Any

import httpx

from feeds.models import AuditRecord, Child, ChildRevision, Event, Grant, Professional, Role
from server.auth import issue_token
from tests.conftest import Factory

REASON = "missing overnight, police asking for contacts"


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


def new_child(lead: Professional, **extra: Any) -> dict[str, Any]:
    return {
        "display_name": "Leah Marsh",
        "reference": "NG-2024-0042",
        "date_of_birth": "2016-03-09",
        "school": "Northgate Primary",
        "lead_professional_id": lead.id,
        **extra,
    }


async def create(client: httpx.AsyncClient, by: Professional, body: dict[str, Any]) -> Any:
    return await client.post("/api/v1/children", json=body, headers=await bearer(by))


async def test_a_manager_creates_a_child_and_only_the_lead_gains_access(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager = await make.professional(role=Role.MANAGER)
    lead = await make.practitioner()
    created = await create(client, manager, new_child(lead, area="North"))
    assert created.status_code == 201, created.text
    child = created.json()
    assert child["reference"] == "NG-2024-0042" and child["status"] == "open"
    assert child["school"] == "Northgate Primary" and child["area"] == "North"
    mine = await client.get("/api/v1/children", headers=await bearer(lead))
    assert [c["id"] for c in mine.json()["children"]] == [child["id"]]
    # The creator is no lead and holds no grant: the feed stays closed to them.
    feed = await client.get(f"/api/v1/children/{child['id']}", headers=await bearer(manager))
    assert feed.status_code == 404
    grant = await Grant.get(child_id=child["id"])
    assert grant.professional_id == lead.id and grant.granted_by_id == manager.id
    record = await AuditRecord.get(action="child.create", child_id=child["id"])
    assert record.actor_id == manager.id and record.outcome == "ok"
    assert record.detail["grants_made"] == [grant.id]
    assert await AuditRecord.filter(actor_id=manager.id).count() == 2  # create, then the read
    assert await Event.filter(type="child.changed", child_id=child["id"]).count() == 1


async def test_an_administrator_creates_a_child_without_gaining_its_feed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    lead = await make.practitioner()
    created = await create(client, admin, new_child(lead))
    assert created.status_code == 201
    child_id = created.json()["id"]
    feed = await client.get(f"/api/v1/children/{child_id}/posts", headers=await bearer(admin))
    assert feed.status_code == 404
    # Identity goes with access: the administrator works by reference, as on break-glass.
    assert created.json()["reference"] == "NG-2024-0042"
    assert created.json()["display_name"] == "" and created.json()["date_of_birth"] is None
    await client.patch(
        f"/api/v1/children/{child_id}", json={"area": "East"}, headers=await bearer(admin)
    )
    history = await client.get(f"/api/v1/children/{child_id}/history", headers=await bearer(admin))
    assert history.status_code == 200 and "Leah" not in history.text
    assert history.json()["revisions"][0]["before"]["reference"] == "NG-2024-0042"
    posts = await client.get(f"/api/v1/children/{child_id}/posts", headers=await bearer(lead))
    assert posts.status_code == 200


async def test_a_team_named_at_creation_gets_access_too(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, lead = await make.professional(role=Role.MANAGER), await make.practitioner()
    team = await make.team(managers=[manager])
    created = await create(client, manager, new_child(lead, team_id=team.id))
    assert created.status_code == 201
    seen = await client.get(
        f"/api/v1/children/{created.json()['id']}", headers=await bearer(manager)
    )
    assert seen.status_code == 200


async def test_practitioners_may_not_create_children(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    refused = await create(client, person, new_child(person))
    assert refused.status_code == 403
    assert "managers and administrators" in refused.json()["error"]["message"]
    assert await Child.all().count() == 0
    assert await AuditRecord.filter(action="child.create", outcome="denied").count() == 1


async def test_a_reference_is_unique_whatever_its_case_and_spaces(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, lead = await make.professional(role=Role.MANAGER), await make.practitioner()
    assert (await create(client, manager, new_child(lead))).status_code == 201
    again = await create(client, manager, new_child(lead, reference="  ng-2024-0042 "))
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["field"] == "reference" and "already has the reference" in error["message"]
    assert await Child.all().count() == 1


async def test_a_reference_is_stored_trimmed(client: httpx.AsyncClient, make: Factory) -> None:
    manager, lead = await make.professional(role=Role.MANAGER), await make.practitioner()
    created = await create(client, manager, new_child(lead, reference="  AB-1 "))
    assert created.json()["reference"] == "AB-1"


BAD_INPUT: list[tuple[dict[str, object], str, str]] = [
    ({"display_name": "   "}, "display_name", "required"),
    ({"reference": "AB\n1"}, "reference", "control characters"),
    ({"reference": "x" * 33}, "reference", "at most 32"),
    ({"reference": "#1"}, "reference", "letters, digits"),
    ({"date_of_birth": "09/03/2016"}, "date_of_birth", "YYYY-MM-DD"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth", "future"),
    ({"lead_professional_id": 999_999}, "lead_professional_id", "No such active"),
    ({"lead_professional_id": "7"}, "lead_professional_id", "whole number"),
    ({"nickname": "Lee"}, "nickname", "Unknown field"),
    ({"school": 5}, "school", "must be text"),
]


async def test_bad_input_is_refused_with_a_message_naming_the_field(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, lead = await make.professional(role=Role.MANAGER), await make.practitioner()
    for change, field, words in BAD_INPUT:
        answer = await create(client, manager, new_child(lead, **change))
        assert answer.status_code == 422, (change, answer.text)
        error = answer.json()["error"]
        assert error["field"] == field and words in error["message"], (change, error)
    missing = new_child(lead)
    del missing["date_of_birth"]
    answer = await create(client, manager, missing)
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "date_of_birth"
    assert await Child.all().count() == 0


async def test_an_administrator_cannot_be_a_lead(client: httpx.AsyncClient, make: Factory) -> None:
    admin = await make.professional(role=Role.ADMIN)
    answer = await create(client, admin, new_child(admin))
    assert answer.status_code == 422
    assert "administrator cannot be a lead" in answer.json()["error"]["message"]


async def _managed(make: Factory) -> tuple[Child, Professional, Professional]:
    """A child, its practitioner lead, and a manager whose team holds a grant on it."""
    lead = await make.practitioner()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    manager = await make.professional(role=Role.MANAGER)
    await make.grant(child, team=await make.team(managers=[manager]))
    return child, lead, manager


async def test_edits_keep_the_old_values_as_history(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _lead, manager = await _managed(make)
    auth = await bearer(manager)
    url = f"/api/v1/children/{child.id}"
    first = await client.patch(url, json={"school": "Hill Academy", "area": "East"}, headers=auth)
    assert first.status_code == 200, first.text
    assert first.json()["school"] == "Hill Academy"
    second = await client.patch(url, json={"display_name": "Leah M."}, headers=auth)
    assert second.json()["display_name"] == "Leah M."
    history = (await client.get(f"{url}/history", headers=auth)).json()
    assert history["child"]["display_name"] == "Leah M."
    newest, oldest = history["revisions"]
    assert newest["before"]["display_name"] == child.display_name
    assert newest["before"]["school"] == "Hill Academy"
    assert oldest["before"]["school"] == "" and oldest["changed_by_id"] == manager.id
    assert oldest["change"] == "edit"
    edits = await AuditRecord.filter(action="child.edit", child_id=child.id).order_by("id")
    assert [r.detail["fields"] for r in edits] == [["area", "school"], ["display_name"]]


async def test_a_new_lead_gets_a_grant(client: httpx.AsyncClient, make: Factory) -> None:
    child, _, manager = await _managed(make)
    newcomer = await make.practitioner()
    answer = await client.patch(
        f"/api/v1/children/{child.id}",
        json={"lead_professional_id": newcomer.id},
        headers=await bearer(manager),
    )
    assert answer.json()["lead_professional_id"] == newcomer.id
    seen = await client.get(f"/api/v1/children/{child.id}", headers=await bearer(newcomer))
    assert seen.status_code == 200


async def test_an_edit_to_a_taken_reference_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, manager = await _managed(make)
    other = await make.child()
    answer = await client.patch(
        f"/api/v1/children/{child.id}",
        json={"reference": other.reference.lower()},
        headers=await bearer(manager),
    )
    assert answer.status_code == 409 and answer.json()["error"]["field"] == "reference"
    assert await ChildRevision.filter(child_id=child.id).count() == 0


async def test_leads_and_unrelated_managers_may_not_edit(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """The lead may set school and area alone (tests/server/test_whereabouts.py), not more."""
    child, lead, _ = await _managed(make)
    url = f"/api/v1/children/{child.id}"
    as_lead = await client.patch(
        url, json={"area": "x", "reference": "Z-1"}, headers=await bearer(lead)
    )
    assert as_lead.status_code == 403
    stranger = await make.professional(role=Role.MANAGER)
    as_stranger = await client.patch(url, json={"area": "x"}, headers=await bearer(stranger))
    assert as_stranger.status_code == 404
    assert child.display_name not in as_stranger.text
    assert (await Child.get(id=child.id)).area == ""


async def test_closing_ends_access_and_makes_the_record_read_only(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, manager = await _managed(make)
    url = f"/api/v1/children/{child.id}"
    closed = await client.post(f"{url}/close", headers=await bearer(manager))
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert await Grant.filter(child_id=child.id, revoked_at__isnull=True).count() == 0
    assert (await client.get(url, headers=await bearer(lead))).status_code == 404
    again = await client.post(f"{url}/close", headers=await bearer(manager))
    assert again.status_code == 409
    edit = await client.patch(url, json={"area": "x"}, headers=await bearer(manager))
    assert edit.status_code == 409 and "closed" in edit.json()["error"]["message"]
    record = await AuditRecord.get(action="child.close", child_id=child.id, outcome="ok")
    ended = await Grant.filter(child_id=child.id).values_list("id", flat=True)
    assert sorted(record.detail["grants_ended"]) == sorted(ended)
    # One decision, one audit record: the closure names the grants it ended.
    assert await AuditRecord.filter(action="grant.revoke").count() == 0
    assert await ChildRevision.filter(child_id=child.id, change="close").count() == 1


async def test_a_closed_case_refuses_posts_with_a_clear_message(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, manager = await _managed(make)
    await client.post(f"/api/v1/children/{child.id}/close", headers=await bearer(manager))
    # Emergency access still opens a closed record (its history may matter), to read only.
    outsider = await make.practitioner()
    auth = await bearer(outsider)
    opened = await client.post(
        f"/api/v1/children/{child.id}/break-glass", json={"reason": REASON}, headers=auth
    )
    assert opened.status_code == 201
    assert (await client.get(f"/api/v1/children/{child.id}/posts", headers=auth)).status_code == 200
    refused = await client.post(
        f"/api/v1/children/{child.id}/posts", json={"kind": "update", "body": "x"}, headers=auth
    )
    assert refused.status_code == 409
    assert "case is closed" in refused.json()["error"]["message"]
    assert await AuditRecord.filter(action="post.create", outcome="closed").count() == 1


async def test_reopening_restores_the_grants_the_closure_ended(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, manager = await _managed(make)
    url = f"/api/v1/children/{child.id}"
    earlier = await make.practitioner(grants=[child])
    await client.delete(
        f"/api/v1/grants/{(await Grant.get(professional_id=earlier.id)).id}",
        headers=await bearer(manager),
    )
    await client.post(f"{url}/close", headers=await bearer(manager))
    not_open = await client.post(f"{url}/reopen", headers=await bearer(lead))
    assert not_open.status_code == 404  # the lead's grant ended with the case
    reopened = await client.post(f"{url}/reopen", headers=await bearer(manager))
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert (await client.get(url, headers=await bearer(lead))).status_code == 200
    # A grant revoked before the closure stays revoked.
    assert (await client.get(url, headers=await bearer(earlier))).status_code == 404
    posted = await client.post(
        f"{url}/posts", json={"kind": "update", "body": "back"}, headers=await bearer(lead)
    )
    assert posted.status_code == 201
    twice = await client.post(f"{url}/reopen", headers=await bearer(manager))
    assert twice.status_code == 409
    changes = await ChildRevision.filter(child_id=child.id).order_by("id").values_list("change")
    assert [c for (c,) in changes] == ["close", "reopen"]


async def test_an_administrator_closes_and_reopens_any_child(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _lead, _ = await _managed(make)
    admin = await make.professional(role=Role.ADMIN)
    auth = await bearer(admin)
    assert (
        await client.post(f"/api/v1/children/{child.id}/close", headers=auth)
    ).status_code == 200
    reopened = await client.post(f"/api/v1/children/{child.id}/reopen", headers=auth)
    assert reopened.status_code == 200
    missing = await client.post("/api/v1/children/999999/close", headers=auth)
    assert missing.status_code == 404
