"""The team around the child on its page (issue 15 items 5 and 6), driven without
JavaScript: removing access asks first and can be undone, one's own row offers no
removal, past access is listed, access ending soon is marked and warned about once, and
the granting form suggests people by name from a bounded set only."""

from __future__ import annotations

import html
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx

from feeds.access.ending import KIND, do_warn_ending
from feeds.audit.actions import AuditAction
from feeds.clock import utcnow
from feeds.models import AuditRecord, Child, Grant, Notification, Professional, TeamMember
from tests.conftest import Factory
from tests.server.test_pages import child_named, logged_in, submit


async def lead_of(child: Child, make: Factory, **fields: Any) -> tuple[Professional, Grant]:
    lead = await make.practitioner(**fields)
    grant = await make.grant(child, professional=lead)
    child.lead_professional_id = lead.id
    await child.save(update_fields=["lead_professional_id"])
    return lead, grant


async def test_removing_access_asks_first_and_undo_gives_it_back(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Wren Abernathy")
    lead, own = await lead_of(child, make)
    holder = await make.practitioner(name="Yusuf Adeyemi")
    ends = utcnow() + timedelta(days=20)
    grant = await Grant.create(child=child, professional=holder, expires_at=ends)
    await logged_in(client, lead)
    path = f"/children/{child.id}"

    page = await client.get(path)
    assert f'href="/grants/{grant.id}/revoke"' in page.text
    assert f"/grants/{own.id}/revoke" not in page.text  # never on one's own row
    confirm = await client.get(f"/grants/{grant.id}/revoke")
    assert confirm.status_code == 200
    assert "Remove Yusuf Adeyemi's access to this child?" in html.unescape(confirm.text)
    assert f'<form method="post" action="/grants/{grant.id}/revoke">' in confirm.text
    assert f'href="/children/{child.id}#team">Cancel</a>' in confirm.text
    await grant.refresh_from_db()
    assert grant.revoked_at is None  # asking changes nothing

    removed = await submit(client, f"/grants/{grant.id}/revoke", f"/grants/{grant.id}/revoke")
    assert removed.status_code == 303
    result = await client.get(removed.headers["location"])
    assert "Access removed for Yusuf Adeyemi" in result.text
    assert f'action="/grants/{grant.id}/undo"' in result.text
    await grant.refresh_from_db()
    assert grant.revoked_at is not None

    undone = await submit(client, path, f"/grants/{grant.id}/undo")
    assert undone.status_code == 303
    again = await Grant.get(child_id=child.id, professional_id=holder.id, revoked_at=None)
    assert again.id != grant.id and again.granted_by_id == lead.id
    assert again.expires_at is not None and abs(again.expires_at - ends) < timedelta(seconds=1)
    audited = await AuditRecord.filter(action=AuditAction.GRANT_CREATE, child_id=child.id)
    assert [r.detail["grant_id"] for r in audited] == [again.id]
    # Undo again: access is already back, nothing more is granted.
    assert (await submit(client, path, f"/grants/{grant.id}/undo")).status_code == 303
    assert await Grant.filter(child_id=child.id, professional_id=holder.id).count() == 2
    team = (await client.get(path)).text.split('id="team"', 1)[1]
    assert "Yusuf Adeyemi" in team.split('class="past-access"', 1)[0]
    assert "Access removed" not in team


async def test_own_access_is_never_removed_through_the_pages(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Xanthe Okoro")
    lead, own = await lead_of(child, make)
    await logged_in(client, lead)
    path = f"/children/{child.id}"
    assert (await client.get(f"/grants/{own.id}/revoke")).status_code == 422
    refused = await submit(client, path, f"/grants/{own.id}/revoke")
    assert refused.status_code == 422
    assert "You cannot remove your own access." in refused.text
    await own.refresh_from_db()
    assert own.revoked_at is None


async def test_undo_is_refused_without_the_right_and_for_access_not_removed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Yara Lindqvist")
    person = await make.practitioner(grants=[child])
    gone = await make.grant(child, professional=await make.practitioner(), revoked=True)
    await logged_in(client, person)
    path = f"/children/{child.id}"
    assert (await submit(client, path, f"/grants/{gone.id}/undo")).status_code == 403
    assert await Grant.filter(child_id=child.id).count() == 2
    other = await child_named("Zora Petrov")
    hidden = await make.grant(other, professional=person, revoked=True)
    assert (await submit(client, path, f"/grants/{hidden.id}/undo")).status_code == 404
    boss = await make.manager_of(child)
    await logged_in(client, boss)
    live = await Grant.get(child_id=child.id, professional_id=person.id)
    before = await Grant.filter(child_id=child.id).count()
    # Undoing access that was never removed changes nothing (like revoking a revoked grant).
    assert (await submit(client, path, f"/grants/{live.id}/undo")).status_code == 303
    assert await Grant.filter(child_id=child.id).count() == before


async def test_past_access_and_access_ending_soon(client: httpx.AsyncClient, make: Factory) -> None:
    child = await child_named("Anouk Ferreira")
    await lead_of(child, make)
    now = utcnow()
    soon = await make.practitioner(name="Bea Soon")
    # Noon three UTC days ahead: "ends in" counts calendar days, so now + 3 days 1 hour read
    # "ends in 4 days" when the test ran after 23:00 UTC.
    in_three_days = datetime.combine(now.date() + timedelta(days=3), time(12), tzinfo=UTC)
    await Grant.create(child=child, professional=soon, expires_at=in_three_days)
    later = await make.practitioner(name="Cal Later")
    await Grant.create(child=child, professional=later, expires_at=now + timedelta(days=30))
    ended = await make.practitioner(name="Dee Ended")
    await Grant.create(child=child, professional=ended, expires_at=now - timedelta(days=2))
    back = await make.practitioner(name="Eli Back")
    await make.grant(child, professional=back, revoked=True)
    await make.grant(child, professional=back)
    await logged_in(client, await make.practitioner(grants=[child]))  # any viewer sees it
    team = (await client.get(f"/children/{child.id}")).text.split('id="team"', 1)[1]
    current, past = team.split('class="past-access"', 1)
    assert "Bea Soon" in current and "ends in 3 days" in current
    assert "Cal Later" in current and current.count("ends in") == 1
    assert "Dee Ended" not in current
    assert f"expired {(now - timedelta(days=2)).date().isoformat()}" in past
    assert "Dee Ended" in past and "Past access (1)" in past
    assert "Eli Back" in current and "Eli Back" not in past  # has access again


async def test_access_ending_is_warned_about_once(client: httpx.AsyncClient, make: Factory) -> None:
    child = await child_named("Bruno Castellanos")
    lead, _ = await lead_of(child, make)
    now = utcnow()
    holder = await make.practitioner(grants=[])
    ending = await Grant.create(
        child=child, professional=holder, expires_at=now + timedelta(days=2)
    )
    member = await make.practitioner()
    team = await make.team(members=[member])
    await Grant.create(child=child, team=team, expires_at=now + timedelta(days=1))
    not_yet = await make.practitioner()
    await Grant.create(child=child, professional=not_yet, expires_at=now + timedelta(days=5))

    assert await do_warn_ending(now) == 2
    assert await do_warn_ending(now) == 0  # a second sweep (or worker) sends nothing more
    told: list[Any] = await Notification.filter(kind=KIND, child_id=child.id).values_list(
        "recipient_id", flat=True
    )
    # The holder and the lead for one grant; the team's member and the lead for the other.
    assert sorted(told) == sorted([holder.id, lead.id, member.id, lead.id])
    await ending.refresh_from_db()
    assert ending.ending_warned_at is not None
    # The grant entering its last 3 days later is warned then, once.
    assert await do_warn_ending(now + timedelta(days=2, hours=1)) == 1
    assert await Notification.filter(kind=KIND, recipient_id=not_yet.id).count() == 1
    await logged_in(client, holder)
    inbox = await client.get("/notifications")
    assert "Access ends soon" in inbox.text and child.display_name in inbox.text


async def test_suggestions_come_only_from_the_granters_agency_teams_and_the_childs_past(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Cosmo Hartley")
    boss = await make.manager_of(child)
    agency = await boss.agency
    colleague = await make.practitioner(agency=agency, name="Alma Colleague")
    teammate = await make.practitioner(name="Alba Teammate")  # another agency, same team
    boss_team = await TeamMember.get(professional_id=boss.id)
    await TeamMember.create(team_id=boss_team.team_id, professional=teammate)
    past = await make.practitioner(name="Albert Past")
    await make.grant(child, professional=past, revoked=True)
    await make.practitioner(name="Alice Stranger")  # another agency, never around the child
    await make.practitioner(agency=agency, name="Alan Gone", is_active=False)
    await logged_in(client, boss)
    url = f"/children/{child.id}/grants/suggest"

    found = await client.get(url, params={"q": "al"})
    assert found.status_code == 200
    names = [p["name"] for p in found.json()["people"]]
    assert names == ["Alba Teammate", "Albert Past", "Alma Colleague"]
    assert all("email" not in p for p in found.json()["people"])
    surname = await client.get(url, params={"q": "Colle"})  # a word of the name
    assert [p["id"] for p in surname.json()["people"]] == [colleague.id]
    for q in ("Stranger", "alice", "%", "_", ""):
        assert (await client.get(url, params={"q": q})).json()["people"] == [], q

    for n in range(12):
        await make.practitioner(agency=agency, name=f"Zed {n:02d}")
    assert len((await client.get(url, params={"q": "zed"})).json()["people"]) == 10

    picked = await submit(
        client,
        f"/children/{child.id}",
        f"/children/{child.id}/grants",
        professional_id=str(teammate.id),
        email="Alba Teammate (Social worker, Agency 9)",
    )
    assert picked.status_code == 303
    assert await Grant.filter(child_id=child.id, professional_id=teammate.id).exists()


async def test_suggestions_refuse_those_who_may_not_manage_access(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await child_named("Dara Quinlan")
    person = await make.practitioner(grants=[child])
    await make.practitioner(agency=await person.agency, name="Nell Nearby")
    await logged_in(client, person)
    refused = await client.get(f"/children/{child.id}/grants/suggest", params={"q": "ne"})
    assert refused.status_code == 403
    assert "Nell" not in refused.text
    stranger = await make.practitioner()
    await logged_in(client, stranger)
    hidden = await client.get(f"/children/{child.id}/grants/suggest", params={"q": "ne"})
    assert hidden.status_code == 404
    assert "Nell" not in hidden.text
