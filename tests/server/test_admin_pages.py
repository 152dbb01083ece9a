"""The administrators' pages and the new-child and record pages, driven like a browser
without JavaScript: forms with CSRF tokens, cookies, redirects."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from feeds.models import Agency, Child, Grant, Professional, Role, Team, TeamMember
from tests.conftest import PASSWORD, Factory, client_for
from tests.mfa_helpers import post_form

ORIGIN = {"origin": "http://testserver"}


async def signed_in(client: httpx.AsyncClient, person: Professional) -> None:
    """Through the login form; later posts carry only the token their page gave them."""
    done = await post_form(client, "/login", "/login", email=person.email, password=PASSWORD)
    assert done.status_code == 303, done.text


async def test_an_administrators_home_links_to_running_the_service(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    home = await client.get("/")
    assert home.status_code == 200
    assert "no children on your caseload" not in home.text
    for link in (
        "/admin/people",
        "/admin/teams",
        "/admin/agencies",
        "/children/new",
        "/admin/audit",
        "/admin/break-glass",
    ):
        assert f'href="{link}' in home.text, link


async def test_managers_get_new_child_on_their_home_and_practitioners_do_not(
    client: httpx.AsyncClient, make: Factory, app: Starlette
) -> None:
    await signed_in(client, await make.professional(role=Role.MANAGER))
    assert 'href="/children/new"' in (await client.get("/")).text
    async with client_for(app) as other:
        await signed_in(other, await make.practitioner())
        home = await other.get("/")
        assert 'href="/children/new"' not in home.text
        assert (await other.get("/children/new")).status_code == 403


async def test_an_administrator_sets_up_the_organisation_with_forms(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    added = await post_form(
        client, "/admin/agencies", "/admin/agencies", name="Northgate Council", sector="social_care"
    )
    assert added.status_code == 303
    agency = await Agency.get(name="Northgate Council")
    page = await client.get("/admin/agencies")
    assert "Northgate Council" in page.text and '<label for="agency-name">' in page.text
    clash = await post_form(
        client, "/admin/agencies", "/admin/agencies", name="NORTHGATE council", sector="health"
    )
    assert clash.status_code == 409 and "already an agency" in clash.text
    team = await post_form(
        client, "/admin/teams", "/admin/teams", name="Children in need", agency_id=str(agency.id)
    )
    assert team.status_code == 303
    person = await post_form(
        client,
        "/admin/people",
        "/admin/people",
        name="Sam Patel",
        email="sam@example.test",
        job_title="Social worker",
        agency_id=str(agency.id),
        role="manager",
        password="a long enough password",
    )
    assert person.status_code == 303, person.text
    sam = await Professional.get(email="sam@example.test")
    assert sam.role == Role.MANAGER
    created = await Team.get(name="Children in need")
    joined = await post_form(
        client,
        "/admin/teams",
        f"/admin/teams/{created.id}/members",
        email="sam@example.test",
        is_manager="on",
    )
    assert joined.status_code == 303
    assert await TeamMember.filter(
        team_id=created.id, professional_id=sam.id, is_manager=True
    ).exists()
    shown = await client.get("/admin/teams")
    assert "Sam Patel" in shown.text and "manager" in shown.text
    removed = await post_form(
        client, "/admin/teams", f"/admin/teams/{created.id}/members/{sam.id}/remove"
    )
    assert removed.status_code == 303
    assert not await TeamMember.filter(team_id=created.id).exists()


async def test_a_form_post_without_its_token_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    refused = await client.post(
        "/admin/agencies", data={"name": "X", "sector": "health"}, headers=ORIGIN
    )
    assert refused.status_code == 403
    assert await Agency.filter(name="X").count() == 0


async def test_deactivation_asks_first_then_ends_the_account(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.ADMIN))
    person = await make.practitioner()
    listing = await client.get("/admin/people")
    assert f'href="/admin/people/{person.id}/deactivate"' in listing.text
    confirm = await client.get(f"/admin/people/{person.id}/deactivate")
    assert confirm.status_code == 200 and "signed out everywhere" in confirm.text
    assert (await Professional.get(id=person.id)).is_active  # asking changes nothing
    done = await post_form(
        client,
        f"/admin/people/{person.id}/deactivate",
        f"/admin/people/{person.id}/deactivate",
    )
    assert done.status_code == 303
    assert not (await Professional.get(id=person.id)).is_active
    back = await post_form(client, "/admin/people", f"/admin/people/{person.id}/reactivate")
    assert back.status_code == 303 and (await Professional.get(id=person.id)).is_active
    role = await post_form(client, "/admin/people", f"/admin/people/{person.id}/role", role="admin")
    assert role.status_code == 303 and (await Professional.get(id=person.id)).role == Role.ADMIN


async def test_practitioners_get_403_on_admin_pages(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.practitioner())
    for path in ("/admin/people", "/admin/teams", "/admin/agencies", "/admin/people/1/deactivate"):
        assert (await client.get(path)).status_code == 403, path


async def test_a_manager_creates_a_child_with_the_form(
    client: httpx.AsyncClient, make: Factory
) -> None:
    await signed_in(client, await make.professional(role=Role.MANAGER))
    lead = await make.practitioner()
    form = await client.get("/children/new")
    for label in ("child-name", "child-reference", "child-born", "child-lead"):
        assert f'<label for="{label}">' in form.text
    fields = {
        "display_name": "Leah Marsh",
        "reference": "NG-7",
        "date_of_birth": "2016-03-09",
        "school": "",
        "area": "North",
        "lead_email": lead.email,
    }
    done = await post_form(client, "/children/new", "/children/new", **fields)
    assert done.status_code == 303 and done.headers["location"] == "/children/new?created=NG-7"
    child = await Child.get(reference="NG-7")
    assert child.area == "North" and child.lead_professional_id == lead.id
    assert await Grant.filter(child_id=child.id, professional_id=lead.id).exists()
    again = await post_form(client, "/children/new", "/children/new", **fields)
    assert again.status_code == 409 and "already has the reference" in again.text
    assert "Leah Marsh" in again.text  # the draft is kept
    nobody = await post_form(
        client, "/children/new", "/children/new", **{**fields, "lead_email": "no@example.test"}
    )
    assert nobody.status_code == 422 and "lead professional" in nobody.text


async def test_the_record_page_edits_closes_and_reopens(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager = await make.professional(role=Role.MANAGER)
    lead = await make.practitioner()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    await make.grant(child, team=await make.team(managers=[manager]))
    await signed_in(client, manager)
    page = f"/children/{child.id}"
    assert f'href="{page}/record"' in (await client.get(page)).text
    edited = await post_form(
        client,
        f"{page}/record",
        f"{page}/record",
        display_name="Leah M.",
        reference=child.reference,
        date_of_birth="2016-03-09",
        school="Hill Academy",
        area="",
        lead_email=lead.email,
    )
    assert edited.status_code == 303
    record = await client.get(f"{page}/record")
    assert "Leah M." in record.text and child.display_name in record.text  # old value in history
    closed = await post_form(client, f"{page}/record", f"{page}/close")
    assert closed.status_code == 303
    assert (await Child.get(id=child.id)).closed_at is not None
    shown = await client.get(f"{page}/record")
    assert "Case closed" in shown.text and "Reopen the case" in shown.text
    reopened = await post_form(client, f"{page}/record", f"{page}/reopen")
    assert reopened.status_code == 303
    assert (await Child.get(id=child.id)).closed_at is None
