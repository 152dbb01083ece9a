"""The team around the child as a picture (issue 16 part 3): by agency, each holder's
role, since when, last post, access ending soon or expired, work contacts, and agencies
gone quiet; and the work phone and email people set on their profiles."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import httpx

from feeds.audit.actions import AuditAction
from feeds.clock import utcnow
from feeds.models import (
    Agency,
    AuditRecord,
    Child,
    Grant,
    Post,
    PostKind,
    Professional,
    Role,
    Sector,
)
from feeds.organisation.contact import EMAIL_RULE, PHONE_RULE
from feeds.silence.verdicts import do_recompute_silence
from server.auth import issue_token
from tests.conftest import Factory
from tests.feeds.test_silence_verdicts import contact_every
from tests.server.test_pages import child_named, logged_in, submit


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


async def posted(child: Child, author: Professional, days_ago: int, removed: bool = False) -> Post:
    post = await Post.create(child=child, author=author, kind=PostKind.VISIT, body="home visit")
    at = utcnow() - timedelta(days=days_ago)
    await Post.filter(id=post.id).update(created_at=at, removed_at=utcnow() if removed else None)
    return post


class Around:
    """A child with a lead (social care), a school nurse gone quiet, a GP whose access
    ends in two days, a police team, and a health visitor whose access expired lately."""

    def __init__(self, child: Child, people: dict[str, Professional]) -> None:
        self.child, self.people = child, people


async def around(make: Factory) -> Around:
    child = await child_named("Maisie Thornbury")
    social = await Agency.create(name="Northshire Children's Services", sector=Sector.SOCIAL_CARE)
    school = await Agency.create(name="Oak Primary School", sector=Sector.EDUCATION)
    health = await Agency.create(name="Northshire Health", sector=Sector.HEALTH)
    lead = await make.practitioner(
        agency=social,
        name="Grace Okafor",
        job_title="Social worker",
        work_phone="01632 960 101",
        work_email="grace.okafor@example.org",
    )
    nurse = await make.practitioner(agency=school, name="Tom Briggs", job_title="School nurse")
    gp = await make.practitioner(agency=health, name="Dr Anika Shah", job_title="GP")
    visitor = await make.practitioner(
        agency=health, name="Ruth Penrose", job_title="Health visitor"
    )
    officer = await make.practitioner(name="PC Dan Ellis", job_title="Police officer")
    team = await make.team(members=[officer])
    child.lead_professional_id = lead.id
    await child.save(update_fields=["lead_professional_id"])
    await make.grant(child, professional=lead)
    await make.grant(child, professional=nurse)
    await Grant.create(child=child, professional=gp, expires_at=utcnow() + timedelta(days=2))
    await Grant.create(child=child, professional=visitor, expires_at=utcnow() - timedelta(days=3))
    await make.grant(child, team=team)
    await posted(child, lead, days_ago=2)
    await posted(child, lead, days_ago=0, removed=True)  # a removed post is no last post
    await posted(child, nurse, days_ago=24)
    await posted(child, officer, days_ago=5)
    await contact_every(child, school.name, 7, 14, silent=24, now=utcnow())
    await do_recompute_silence([child.id], utcnow())
    people = {"lead": lead, "nurse": nurse, "gp": gp, "visitor": visitor, "officer": officer}
    return Around(child, people)


def day(days_ago: int) -> str:
    return (utcnow() - timedelta(days=days_ago)).date().isoformat()


def by_name(picture: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {agency["name"]: agency for agency in picture["agencies"]}


def holder(agency: dict[str, Any], name: str) -> dict[str, Any]:
    return next(h for h in agency["holders"] if h["name"] == name)


async def test_the_team_is_grouped_by_agency_with_quiet_agencies_first(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await around(make)
    response = await client.get(
        f"/api/v1/children/{world.child.id}/team", headers=await bearer(world.people["gp"])
    )
    assert response.status_code == 200, response.text
    picture = response.json()
    assert picture["child_id"] == world.child.id
    names = [agency["name"] for agency in picture["agencies"]]
    assert names[0] == "Oak Primary School"  # gone quiet: first
    agencies = by_name(picture)
    school = agencies["Oak Primary School"]
    assert school["gone_quiet"] is True
    assert school["sector"] == "education"
    assert school["quiet_reason"].startswith("Oak Primary School posted about every 7 days")
    assert not agencies["Northshire Children's Services"]["gone_quiet"]
    nurse = holder(school, "Tom Briggs")
    assert (nurse["job_title"], nurse["access"]) == ("School nurse", "active")
    assert nurse["last_post_at"][:10] == day(24)
    assert nurse["since"][:10] == day(0)


async def test_last_posts_leave_removed_posts_out(client: httpx.AsyncClient, make: Factory) -> None:
    world = await around(make)
    headers = await bearer(world.people["lead"])
    picture = (await client.get(f"/api/v1/children/{world.child.id}/team", headers=headers)).json()
    social = by_name(picture)["Northshire Children's Services"]
    assert social["last_post_at"][:10] == day(2)  # the removed post of today does not count
    assert holder(social, "Grace Okafor")["last_post_at"][:10] == day(2)
    health = by_name(picture)["Northshire Health"]
    assert health["last_post_at"] is None
    assert holder(health, "Dr Anika Shah")["last_post_at"] is None


async def test_access_ending_soon_and_lately_expired_are_marked(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await around(make)
    headers = await bearer(world.people["lead"])
    picture = (await client.get(f"/api/v1/children/{world.child.id}/team", headers=headers)).json()
    health = by_name(picture)["Northshire Health"]
    gp, visitor = holder(health, "Dr Anika Shah"), holder(health, "Ruth Penrose")
    assert gp["access"] == "ending_soon"
    assert gp["expires_at"][:10] == (utcnow() + timedelta(days=2)).date().isoformat()
    assert visitor["access"] == "expired"
    # Expired long ago, or access again since: not listed as expired.
    old = await make.practitioner(agency=await Agency.get(name="Northshire Health"), name="Old")
    await Grant.create(
        child=world.child, professional=old, expires_at=utcnow() - timedelta(days=40)
    )
    await Grant.create(child=world.child, professional=world.people["visitor"])
    picture = (await client.get(f"/api/v1/children/{world.child.id}/team", headers=headers)).json()
    health = by_name(picture)["Northshire Health"]
    assert [h["name"] for h in health["holders"] if h["name"] in {"Old", "Ruth Penrose"}] == [
        "Ruth Penrose"
    ]
    assert holder(health, "Ruth Penrose")["access"] == "active"


async def test_contacts_come_as_tel_and_mailto_links_and_teams_list_their_members(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await around(make)
    headers = await bearer(world.people["nurse"])
    picture = (await client.get(f"/api/v1/children/{world.child.id}/team", headers=headers)).json()
    lead = holder(by_name(picture)["Northshire Children's Services"], "Grace Okafor")
    assert lead["people"] == [
        {
            "id": world.people["lead"].id,
            "name": "Grace Okafor",
            "job_title": "Social worker",
            "work_phone": "01632 960 101",
            "work_email": "grace.okafor@example.org",
            "tel": "tel:01632960101",
            "mailto": "mailto:grace.okafor@example.org",
            "last_post_at": lead["last_post_at"],
        }
    ]
    team = next(
        h for agency in picture["agencies"] for h in agency["holders"] if h["type"] == "team"
    )
    assert [p["name"] for p in team["people"]] == ["PC Dan Ellis"]
    assert team["people"][0]["tel"] == ""  # no phone on the profile, no link
    assert team["last_post_at"][:10] == day(5)  # its members' last post


async def test_a_hidden_child_is_404_like_an_absent_one_and_the_refusal_is_audited(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await around(make)
    outsider = await make.practitioner()
    manager_elsewhere = await make.professional(role=Role.MANAGER)
    for person in (outsider, manager_elsewhere, world.people["visitor"]):
        headers = await bearer(person)
        hidden = await client.get(f"/api/v1/children/{world.child.id}/team", headers=headers)
        absent = await client.get("/api/v1/children/999999/team", headers=headers)
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json() == absent.json()
        assert "Oak" not in hidden.text and "Okafor" not in hidden.text
    denied = await AuditRecord.filter(
        action=AuditAction.CHILD_TEAM, child_id=world.child.id, outcome="denied"
    )
    assert len(denied) == 3


async def test_reading_the_team_is_audited_as_a_read_of_the_child(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await around(make)
    reader = world.people["gp"]
    await client.get(f"/api/v1/children/{world.child.id}/team", headers=await bearer(reader))
    records = await AuditRecord.filter(action=AuditAction.CHILD_TEAM, actor_id=reader.id)
    assert [(r.child_id, r.outcome) for r in records] == [(world.child.id, "ok")]


# --- work contact on the profile ---------------------------------------------------


async def test_people_set_their_own_work_contact_and_empty_removes_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    headers = await bearer(person)
    body = {"work_phone": " +44 1632  960 222 ", "work_email": " Sam.Lee@Example.org "}
    response = await client.patch("/api/v1/me/contact", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "professional_id": person.id,
        "work_phone": "+44 1632 960 222",
        "work_email": "sam.lee@example.org",
    }
    # A field left out stays; an empty one is removed.
    response = await client.patch("/api/v1/me/contact", json={"work_phone": ""}, headers=headers)
    assert response.json()["work_phone"] == ""
    assert response.json()["work_email"] == "sam.lee@example.org"
    await person.refresh_from_db()
    assert (person.work_phone, person.work_email) == ("", "sam.lee@example.org")
    audited = await AuditRecord.filter(
        action=AuditAction.PERSON_CONTACT, actor_id=person.id
    ).order_by("id")
    assert [r.detail["changed"] for r in audited] == [["work_email", "work_phone"], ["work_phone"]]


async def test_a_bad_phone_or_email_is_a_422_that_says_what_is_wanted(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    headers = await bearer(person)
    bad = [
        ({"work_phone": "call reception"}, "work_phone", PHONE_RULE),
        ({"work_phone": "123"}, "work_phone", PHONE_RULE),
        ({"work_phone": "0" * 16}, "work_phone", PHONE_RULE),
        ({"work_email": "not-an-address"}, "work_email", EMAIL_RULE),
        ({"work_email": "a@b.org?cc=x@evil.example"}, "work_email", EMAIL_RULE),
        ({"work_email": "sam@example"}, "work_email", EMAIL_RULE),
    ]
    for body, field, message in bad:
        response = await client.patch("/api/v1/me/contact", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["error"] == {"code": "invalid", "message": message, "field": field}
    typed = await client.patch("/api/v1/me/contact", json={"work_phone": 7}, headers=headers)
    assert typed.status_code == 422
    assert typed.json()["error"]["field"] == "work_phone"
    unknown = await client.patch("/api/v1/me/contact", json={"phone": "x"}, headers=headers)
    assert unknown.status_code == 422
    await person.refresh_from_db()
    assert (person.work_phone, person.work_email) == ("", "")


async def test_administrators_set_anyones_contact_and_nobody_else_does(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    person = await make.practitioner()
    other = await make.practitioner()
    path = f"/api/v1/admin/people/{person.id}/contact"
    body = {"work_phone": "01632 960 333", "work_email": "p@example.org"}
    response = await client.patch(path, json=body, headers=await bearer(admin))
    assert response.status_code == 200, response.text
    assert (response.json()["work_phone"], response.json()["work_email"]) == (
        "01632 960 333",
        "p@example.org",
    )
    listed = await client.get("/api/v1/admin/people", headers=await bearer(admin))
    row = next(p for p in listed.json()["people"] if p["id"] == person.id)
    assert row["work_phone"] == "01632 960 333"
    # Someone else's: 403 whatever the body; one's own through the same route is fine.
    refused = await client.patch(path, json={"work_phone": "x"}, headers=await bearer(other))
    assert refused.status_code == 403
    own = f"/api/v1/admin/people/{other.id}/contact"
    mine = await client.patch(
        own, json={"work_phone": "01632 960 444"}, headers=await bearer(other)
    )
    assert mine.status_code == 200
    missing = await client.patch(
        "/api/v1/admin/people/999999/contact", json={}, headers=await bearer(admin)
    )
    assert missing.status_code == 404


# --- pages --------------------------------------------------------------------------


async def test_the_team_page_shows_agencies_contacts_and_quiet_agencies(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await around(make)
    await logged_in(client, world.people["officer"])
    child_page = await client.get(f"/children/{world.child.id}")
    assert f'href="/children/{world.child.id}/team"' in child_page.text
    page = await client.get(f"/children/{world.child.id}/team")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Team around Maisie Thornbury" in text
    assert 'href="tel:01632960101"' in text
    assert 'href="mailto:grace.okafor@example.org"' in text
    assert "Oak Primary School has stopped posting as regularly as usual" in text
    assert "Access ends in 2 days" in text
    assert f"Access expired {day(3)}" in text
    assert text.index("Oak Primary School") < text.index("Northshire Children's Services")
    outsider = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with outsider:
        await logged_in(outsider, await make.practitioner())
        hidden = await outsider.get(f"/children/{world.child.id}/team")
        assert hidden.status_code == 404
        assert "Maisie" not in hidden.text


async def test_the_account_page_saves_work_contact_and_refuses_bad_input(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    await logged_in(client, person)
    saved = await submit(
        client, "/account", "/account", work_phone="01632 960 555", work_email="me@example.org"
    )
    assert saved.status_code == 303
    page = await client.get(saved.headers["location"])
    assert 'value="01632 960 555"' in page.text and "Saved." in page.text
    refused = await submit(client, "/account", "/account", work_phone="ring me", work_email="")
    assert refused.status_code == 422
    assert html.escape(PHONE_RULE) in refused.text
    assert 'value="ring me"' in refused.text  # what they typed stays in the form
    await person.refresh_from_db()
    assert (person.work_phone, person.work_email) == ("01632 960 555", "me@example.org")


async def test_administrators_set_contact_on_the_people_page(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    person = await make.practitioner(name="Priya Nair")
    await logged_in(client, admin)
    action = f"/admin/people/{person.id}/contact"
    done = await submit(
        client, "/admin/people", action, work_phone="01632 960 666", work_email="priya@example.org"
    )
    assert done.status_code == 303
    page = await client.get("/admin/people")
    assert 'value="01632 960 666"' in page.text
    refused = await submit(client, "/admin/people", action, work_phone="", work_email="nope")
    assert refused.status_code == 422
    assert html.escape(EMAIL_RULE) in refused.text
