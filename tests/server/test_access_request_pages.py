"""Asking to join and deciding through the HTML pages (forms with CSRF tokens), and the
new-agency entries in a child's feed (issue 16)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from starlette.applications import Starlette

from feeds.clock import utcnow
from feeds.models import Agency, Child, Grant, Notification, Professional, Role, Sector
from feeds.network.involvement import backfill_entries
from feeds.network.models import AccessRequest, ChildEvent
from feeds.network.requests import SENT
from tests.conftest import Factory, client_for
from tests.server.test_pages import ORIGIN, child_named, logged_in, submit

REASON = "Starting weekly health checks at Northgate Primary"


async def ask_by_form(client: httpx.AsyncClient, reference: str, **fields: str) -> httpx.Response:
    values = {"reference": reference, "role": "school nurse", "reason": REASON, **fields}
    return await submit(client, "/access-requests", "/access-requests", **values)


async def test_the_form_is_reachable_from_home_and_from_the_refusal_page(
    client: httpx.AsyncClient, make: Factory
) -> None:
    hidden_child = await make.child()
    await logged_in(client, await make.professional())
    for path in ("/", f"/children/{hidden_child.id}", "/children/999999"):
        page = await client.get(path)
        assert 'href="/access-requests"' in page.text, path
    form = await client.get("/access-requests")
    assert form.status_code == 200
    assert 'name="reference"' in form.text and 'name="reason"' in form.text


async def test_asking_by_form_answers_the_same_whatever_the_reference(
    client: httpx.AsyncClient, make: Factory
) -> None:
    lead = await make.professional()
    child = await child_named("Ava Stone", lead=lead)
    await make.grant(child, professional=lead)
    await logged_in(client, await make.professional())
    answers = [await ask_by_form(client, child.reference), await ask_by_form(client, "R-NOPE")]
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    sent = await client.get(answers[0].headers["location"])
    assert SENT in sent.text
    assert "Ava Stone" not in sent.text  # their own list shows what they typed, not the child
    assert sent.text.count(child.reference) == 1 and "R-NOPE" in sent.text


async def test_a_bad_request_shows_the_message_and_keeps_the_draft(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await logged_in(client, await make.professional())
    response = await ask_by_form(client, "R-ANY", reason="too short")
    assert response.status_code == 422
    assert 'id="ask-error"' in response.text and "R-ANY" in response.text
    assert await AccessRequest.all().count() == 0


async def test_asking_without_a_csrf_token_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await logged_in(client, await make.professional())
    values = {"reference": "R-ANY", "role": "school nurse", "reason": REASON}
    response = await client.post("/access-requests", data=values, headers=ORIGIN)
    assert response.status_code == 403
    assert await AccessRequest.all().count() == 0


async def requested(make: Factory, client: httpx.AsyncClient) -> tuple[Professional, int, int]:
    """A child with a lead, and a request to join it (made through the form)."""
    lead = await make.professional()
    child = await child_named("Ava Stone", lead=lead)
    await make.grant(child, professional=lead)
    requester = await make.professional(name="Nina Nurse")
    await logged_in(client, requester)
    await ask_by_form(client, child.reference.lower())
    await submit(client, "/", "/logout")
    request = await AccessRequest.get(requester_id=requester.id)
    return lead, child.id, request.id


async def test_the_lead_approves_from_the_child_page(
    client: httpx.AsyncClient, make: Factory
) -> None:
    lead, child_id, request_id = await requested(make, client)
    await logged_in(client, lead)
    page = await client.get(f"/children/{child_id}")
    assert 'id="requests"' in page.text and "Nina Nurse" in page.text and REASON in page.text
    response = await submit(
        client, f"/children/{child_id}", f"/access-requests/{request_id}/approve", days="180"
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/children/{child_id}#requests"
    request = await AccessRequest.get(id=request_id)
    grant = await Grant.get(id=request.grant_id)
    assert grant.expires_at is not None
    assert timedelta(days=179) < grant.expires_at - utcnow() <= timedelta(days=180)
    assert (
        "Nina Nurse"
        not in (await client.get(f"/children/{child_id}#requests")).text.split('id="requests"')[1]
    )


async def test_the_lead_declines_from_the_list_page_and_the_requester_sees_why(
    client: httpx.AsyncClient, make: Factory, app: Starlette
) -> None:
    lead, _, request_id = await requested(make, client)
    await logged_in(client, lead)
    listing = await client.get("/access-requests")
    assert "Nina Nurse" in listing.text and "Ava Stone" in listing.text
    response = await submit(
        client,
        "/access-requests",
        f"/access-requests/{request_id}/decline",
        reason="Covered by the school nursing team",
        next="/access-requests",
    )
    assert response.status_code == 303 and response.headers["location"] == "/access-requests"
    requester = await Professional.get(name="Nina Nurse")
    async with client_for(app) as other:
        await logged_in(other, requester)
        mine = await other.get("/access-requests")
        assert "Declined" in mine.text and "Covered by the school nursing team" in mine.text
        inbox = await other.get("/notifications")
        assert "declined" in inbox.text and "Ava Stone" not in inbox.text


async def test_a_practitioner_sees_no_decision_forms_and_cannot_post_one(
    client: httpx.AsyncClient, make: Factory
) -> None:
    _, child_id, request_id = await requested(make, client)
    practitioner = await make.professional()
    await make.grant(await Child.get(id=child_id), professional=practitioner)
    await logged_in(client, practitioner)
    page = await client.get(f"/children/{child_id}")
    assert 'id="requests"' not in page.text and "Nina Nurse" not in page.text
    response = await submit(
        client, f"/children/{child_id}", f"/access-requests/{request_id}/approve", days="30"
    )
    assert response.status_code == 403
    assert (await AccessRequest.get(id=request_id)).status == "open"


# --- a new agency around the child -------------------------------------------------------


def entries(page: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", m).strip()
        for m in re.findall(r'<li class="post system-entry"[^>]*>(.*?)<time', page, re.S)
    ]


async def test_a_new_agency_is_an_entry_in_the_feed_once_and_the_lead_is_told(
    client: httpx.AsyncClient, make: Factory
) -> None:
    lead = await make.professional()
    child = await child_named("Ava Stone", lead=lead)
    manager = await make.manager_of(child)  # a team of its own agency, granted directly
    await make.grant(child, professional=lead)
    school = await Agency.create(name="Northgate Primary School", sector=Sector.EDUCATION)
    teacher = await make.professional(agency=school, email="teacher@northgate.test")
    head = await make.professional(agency=school, email="head@northgate.test")
    await logged_in(client, manager)
    for person in (teacher, head):  # the second grant from the same agency adds nothing
        response = await submit(
            client, f"/children/{child.id}", f"/children/{child.id}/grants", email=person.email
        )
        assert response.status_code == 303
    await logged_in(client, teacher)
    await submit(
        client,
        f"/children/{child.id}",
        f"/children/{child.id}/posts",
        kind="update",
        body="settled in class",
    )
    page = await client.get(f"/children/{child.id}")
    [entry] = entries(page.text)
    assert entry.endswith("Network</span> Northgate Primary School (education) is now involved")
    told = await Notification.filter(recipient_id=lead.id, kind="agency_involved")
    assert [(n.child_id, n.actor_id) for n in told] == [(child.id, manager.id)]
    assert await ChildEvent.filter(child_id=child.id, agency_id=school.id).count() == 1


async def test_the_lead_granting_a_new_agency_is_not_told_of_their_own_grant(
    client: httpx.AsyncClient, make: Factory
) -> None:
    lead = await make.professional()
    child = await child_named("Ava Stone", lead=lead)
    await make.grant(child, professional=lead)
    police = await Agency.create(name="Northshire Police", sector=Sector.POLICE)
    officer = await make.professional(agency=police)
    await logged_in(client, lead)
    await submit(
        client, f"/children/{child.id}", f"/children/{child.id}/grants", email=officer.email
    )
    page = await client.get(f"/children/{child.id}")
    assert any("Northshire Police (police) is now involved" in e for e in entries(page.text))
    assert not await Notification.filter(recipient_id=lead.id).exists()


async def test_a_first_post_under_emergency_access_brings_its_agency(
    client: httpx.AsyncClient, make: Factory
) -> None:
    lead = await make.professional()
    child = await child_named("Ava Stone", lead=lead)
    await make.grant(child, professional=lead)
    hospital = await Agency.create(name="St Mary's Hospital", sector=Sector.HEALTH)
    doctor = await make.professional(agency=hospital, role=Role.PRACTITIONER)
    await logged_in(client, doctor)
    opened = await submit(
        client, "/", f"/children/{child.id}/break-glass", reason="Admitted to A&E overnight"
    )
    assert opened.status_code == 303
    await submit(
        client,
        f"/children/{child.id}",
        f"/children/{child.id}/posts",
        kind="concern",
        body="bruising",
    )
    await submit(
        client,
        f"/children/{child.id}",
        f"/children/{child.id}/posts",
        kind="update",
        body="discharged",
    )
    page = await client.get(f"/children/{child.id}")
    found = entries(page.text)
    assert len(found) == 1 and "St Mary&#39;s Hospital (health) is now involved" in found[0]
    assert await Notification.filter(recipient_id=lead.id, kind="agency_involved").count() == 1


async def test_an_agency_that_was_there_before_arrives_quietly_dated_when_it_came(
    client: httpx.AsyncClient, make: Factory
) -> None:
    lead = await make.professional()
    child = await child_named("Ava Stone", lead=lead)
    await make.grant(child, professional=lead)
    worker = await make.professional()
    old = await make.grant(child, professional=worker)  # written before entries existed
    await Grant.filter(id=old.id).update(created_at=utcnow() - timedelta(days=40))
    await logged_in(client, worker)
    await submit(
        client,
        f"/children/{child.id}",
        f"/children/{child.id}/posts",
        kind="update",
        body="home visit",
    )
    [entry] = await ChildEvent.filter(child_id=child.id, agency_id=worker.agency_id)
    assert utcnow() - entry.created_at > timedelta(days=39)
    assert not await Notification.filter(recipient_id=lead.id).exists()


async def test_agencies_written_in_bulk_are_backfilled_quietly_once(make: Factory) -> None:
    lead = await make.professional()
    child = await child_named("Ava Stone", lead=lead)
    first = await make.grant(child, professional=lead)
    team = await make.team(members=[await make.professional()])
    await make.grant(child, team=team)
    await Grant.filter(id=first.id).update(created_at=utcnow() - timedelta(days=3))
    await backfill_entries()
    await backfill_entries()
    found = await ChildEvent.filter(child_id=child.id).order_by("created_at")
    assert [e.agency_id for e in found] == [lead.agency_id, team.agency_id]
    assert utcnow() - found[0].created_at > timedelta(days=2)
    assert not await Notification.all().exists()
