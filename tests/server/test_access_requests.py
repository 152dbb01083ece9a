"""Asking to join a child's network, and deciding, through the JSON API (issue 16, part 1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from feeds.clock import utcnow
from feeds.models import AuditRecord, BreakGlass, Child, Grant, Notification, Professional, Role
from feeds.network.models import AccessRequest
from feeds.network.requests import RATE_LIMIT, SENT
from server.auth import issue_token
from tests.conftest import Factory

NURSE = {"role": "school nurse", "reason": "Starting weekly health checks at Northgate Primary"}


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


async def ask(
    client: httpx.AsyncClient, person: Professional, reference: str, **fields: Any
) -> httpx.Response:
    body = {"reference": reference, **NURSE, **fields}
    return await client.post("/api/v1/access-requests", json=body, headers=await bearer(person))


async def led_child(make: Factory) -> tuple[Child, Professional]:
    """A child whose lead professional holds a grant (so is answerable for it)."""
    lead = await make.professional()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    return child, lead


async def the_request(requester: Professional) -> AccessRequest:
    return await AccessRequest.filter(requester_id=requester.id).order_by("-id").first()  # type: ignore[return-value]


async def kinds_for(person: Professional) -> list[str]:
    found = await Notification.filter(recipient_id=person.id).order_by("id")
    return [note.kind for note in found]


async def test_the_answer_is_the_same_whatever_the_reference_names(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _ = await led_child(make)
    mine = await make.child()
    requester = await make.practitioner(grants=[mine])
    answers = [
        await ask(client, requester, f"  {child.reference.lower()} "),  # exists (any case)
        await ask(client, requester, "T-999999"),  # does not exist
        await ask(client, requester, mine.reference),  # already has access
        await ask(client, requester, child.display_name),  # a name is not a reference
    ]
    for response in answers:
        assert response.status_code == 202
        assert response.json() == {"message": SENT}
        assert response.content == answers[0].content
        assert response.headers["content-type"] == answers[0].headers["content-type"]


async def test_asking_is_audited_whether_or_not_the_record_exists(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _ = await led_child(make)
    requester = await make.professional()
    await ask(client, requester, child.reference.lower())
    await ask(client, requester, "NO-SUCH-REF")
    records = await AuditRecord.filter(
        actor_id=requester.id, action="access_request.create"
    ).order_by("id")
    assert [(r.child_id, r.outcome, r.detail["reference"]) for r in records] == [
        (child.id, "ok", child.reference.lower()),
        (None, "ok", "NO-SUCH-REF"),
    ]
    stored = await AccessRequest.filter(requester_id=requester.id).order_by("id")
    assert [r.child_id for r in stored] == [child.id, None]


async def test_the_lead_and_managers_around_the_child_are_told_and_see_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead = await led_child(make)
    manager = await make.manager_of(child)
    colleague = await make.practitioner(grants=[child])
    requester = await make.professional(job_title="School nurse")
    await ask(client, requester, child.reference)
    assert await kinds_for(lead) == ["access_request"]
    assert await kinds_for(manager) == ["access_request"]
    assert await kinds_for(colleague) == []
    for person in (lead, manager):
        listed = await client.get(
            f"/api/v1/children/{child.id}/access-requests", headers=await bearer(person)
        )
        assert listed.status_code == 200
        [item] = listed.json()["access_requests"]
        assert item["requester"]["name"] == requester.name
        assert (item["role"], item["reason"], item["status"]) == (
            "school nurse",
            NURSE["reason"],
            "open",
        )
        waiting = await client.get("/api/v1/access-requests", headers=await bearer(person))
        assert [r["id"] for r in waiting.json()["access_requests"]] == [item["id"]]
    refused = await client.get(
        f"/api/v1/children/{child.id}/access-requests", headers=await bearer(colleague)
    )
    assert refused.status_code == 403
    assert (await client.get("/api/v1/access-requests", headers=await bearer(colleague))).json()[
        "access_requests"
    ] == []


async def test_a_reference_must_match_exactly_never_a_search(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead = await led_child(make)
    requester = await make.professional()
    for near in (child.reference[:-1], child.display_name, "%", "T-%", child.reference + "0"):
        assert (await ask(client, requester, near)).status_code == 202
    assert await kinds_for(lead) == []
    assert await AccessRequest.filter(child_id=child.id).count() == 0


async def test_asking_again_while_open_is_one_request(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead = await led_child(make)
    requester = await make.professional()
    await ask(client, requester, child.reference)
    await ask(client, requester, child.reference.lower())
    assert await AccessRequest.filter(requester_id=requester.id).count() == 1
    assert await kinds_for(lead) == ["access_request"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"reason": "too short"}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"role": ""}, "role"),
        ({"reference": ""}, "reference"),
        ({"reference": "R" * 33}, "reference"),
    ],
)
async def test_bad_input_is_a_422_saying_what(
    client: httpx.AsyncClient, make: Factory, fields: dict[str, str], field: str
) -> None:
    requester = await make.professional()
    body = {"reference": "T-000001", **NURSE, **fields}
    response = await client.post(
        "/api/v1/access-requests", json=body, headers=await bearer(requester)
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_requests_are_rate_limited_per_person_from_stored_requests(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _ = await led_child(make)
    requester = await make.professional()
    for n in range(RATE_LIMIT):
        assert (await ask(client, requester, f"X-{n}")).status_code == 202
    for reference in (child.reference, "X-NEW"):  # the same answer here too
        refused = await ask(client, requester, reference)
        assert refused.status_code == 429
        assert "24 hours" in refused.json()["error"]["message"]
    denied = await AuditRecord.filter(
        actor_id=requester.id, action="access_request.create", outcome="denied"
    )
    assert len(denied) == 2 and {r.child_id for r in denied} == {None}
    # Someone else is not limited; and a day later the stored requests no longer count.
    assert (await ask(client, await make.professional(), "X-0")).status_code == 202
    await AccessRequest.filter(requester_id=requester.id).update(
        created_at=utcnow() - timedelta(hours=25)
    )
    assert (await ask(client, requester, child.reference)).status_code == 202


async def asked_for(client: httpx.AsyncClient, make: Factory) -> tuple[Child, Professional, Any]:
    child, lead = await led_child(make)
    requester = await make.professional()
    await ask(client, requester, child.reference)
    return child, lead, await the_request(requester)


async def test_approving_grants_access_until_the_chosen_expiry(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, request = await asked_for(client, make)
    requester = await Professional.get(id=request.requester_id)
    child_url = f"/api/v1/children/{child.id}"
    assert (await client.get(child_url, headers=await bearer(requester))).status_code == 404
    approved = await client.post(
        f"/api/v1/access-requests/{request.id}/approve",
        json={"days": 30},
        headers=await bearer(lead),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    grant = await Grant.get(id=approved.json()["grant_id"])
    assert grant.professional_id == requester.id and grant.granted_by_id == lead.id
    assert grant.expires_at is not None
    assert timedelta(days=29) < grant.expires_at - utcnow() <= timedelta(days=30)
    assert (await client.get(child_url, headers=await bearer(requester))).status_code == 200
    assert "access_request_approved" in await kinds_for(requester)
    [record] = await AuditRecord.filter(actor_id=lead.id, action="grant.create")
    assert record.child_id == child.id and record.detail["access_request_id"] == request.id
    mine = await client.get("/api/v1/access-requests/mine", headers=await bearer(requester))
    assert [r["status"] for r in mine.json()["access_requests"]] == ["approved"]
    again = await client.post(
        f"/api/v1/access-requests/{request.id}/approve", headers=await bearer(lead)
    )
    assert again.status_code == 409


async def test_an_approval_lasts_90_days_unless_told_and_at_most_a_year(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, request = await asked_for(client, make)
    url = f"/api/v1/access-requests/{request.id}/approve"
    for days in (0, 366, "ninety", True):
        refused = await client.post(url, json={"days": days}, headers=await bearer(lead))
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "days"
    assert (await client.post(url, headers=await bearer(lead))).status_code == 200
    grant = await Grant.get(child_id=child.id, professional_id=request.requester_id)
    assert grant.expires_at is not None
    assert timedelta(days=89) < grant.expires_at - utcnow() <= timedelta(days=90)


async def test_declining_tells_the_requester_without_naming_the_child(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, request = await asked_for(client, make)
    requester = await Professional.get(id=request.requester_id)
    declined = await client.post(
        f"/api/v1/access-requests/{request.id}/decline",
        json={"reason": "The school nurse team already covers this"},
        headers=await bearer(lead),
    )
    assert declined.status_code == 200, declined.text
    inbox = (await client.get("/api/v1/notifications", headers=await bearer(requester))).json()
    [note] = inbox["notifications"]
    assert (note["kind"], note["child_id"], inbox["unread"]) == ("access_request_declined", None, 1)
    assert child.display_name not in str(inbox)
    mine = await client.get("/api/v1/access-requests/mine", headers=await bearer(requester))
    [item] = mine.json()["access_requests"]
    assert item["status"] == "declined"
    assert item["decline_reason"] == "The school nurse team already covers this"
    assert "child" not in item and "child_id" not in item
    assert (
        await client.get(f"/api/v1/children/{child.id}", headers=await bearer(requester))
    ).status_code == 404
    [record] = await AuditRecord.filter(actor_id=lead.id, action="access_request.decline")
    assert record.child_id == child.id and record.outcome == "ok"
    no_reason = await client.post(
        f"/api/v1/access-requests/{request.id}/decline", json={}, headers=await bearer(lead)
    )
    assert no_reason.status_code in {409, 422}


async def test_an_open_request_lapses_after_14_days(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, request = await asked_for(client, make)
    requester = await Professional.get(id=request.requester_id)
    await AccessRequest.filter(id=request.id).update(created_at=utcnow() - timedelta(days=15))
    listed = await client.get(
        f"/api/v1/children/{child.id}/access-requests", headers=await bearer(lead)
    )
    assert listed.json()["access_requests"] == []
    approve = await client.post(
        f"/api/v1/access-requests/{request.id}/approve", headers=await bearer(lead)
    )
    assert approve.status_code == 409
    assert "lapsed" in approve.json()["error"]["message"]
    assert not await Grant.filter(professional_id=requester.id).exists()
    mine = await client.get("/api/v1/access-requests/mine", headers=await bearer(requester))
    assert [r["status"] for r in mine.json()["access_requests"]] == ["lapsed"]
    # Lapsed, it no longer stops them asking again.
    await ask(client, requester, child.reference)
    assert await AccessRequest.filter(requester_id=requester.id).count() == 2


async def test_only_those_who_manage_grants_may_decide(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, request = await asked_for(client, make)
    practitioner = await make.practitioner(grants=[child])
    glass = await make.professional(role=Role.MANAGER)
    now = utcnow()
    await BreakGlass.create(
        child=child,
        professional=glass,
        reason="emergency",
        started_at=now,
        expires_at=now + timedelta(hours=4),
    )
    stranger = await make.professional(role=Role.MANAGER)
    admin = await make.professional(role=Role.ADMIN)
    expected = {practitioner: 403, glass: 403, stranger: 404, admin: 404}
    for person, status in expected.items():
        for action, body in (("approve", {}), ("decline", {"reason": "not needed here"})):
            response = await client.post(
                f"/api/v1/access-requests/{request.id}/{action}",
                json=body,
                headers=await bearer(person),
            )
            assert response.status_code == status, (person.email, action)
            if status == 404:
                assert child.display_name not in response.text
    assert (await AccessRequest.get(id=request.id)).status == "open"
    assert await Grant.filter(professional_id=request.requester_id).count() == 0


async def test_a_request_for_no_child_cannot_be_decided_by_anyone(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, lead = await led_child(make)
    requester = await make.professional()
    await ask(client, requester, "NOBODY-1")
    nowhere = await the_request(requester)
    missing = await client.post(
        f"/api/v1/access-requests/{nowhere.id}/approve", headers=await bearer(lead)
    )
    unknown = await client.post("/api/v1/access-requests/99999/approve", headers=await bearer(lead))
    assert missing.status_code == unknown.status_code == 404
    assert missing.json() == unknown.json()
