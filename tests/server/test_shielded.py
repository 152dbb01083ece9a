"""Shielded children (issue 17 part 3): the name and reference reach direct personal grants
only; everyone else with access sees "Shielded child #<id>" on every page, list and export;
those without access get the same 404 as ever. Shielding is the lead's or an
administrator's, audited with a reason; break-glass on a shielded child alerts every
administrator; every read of a shielded record is marked in the audit."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from feeds import raw_sql
from feeds.access import identity
from feeds.access.breakglass import SHIELDED_ALERT
from feeds.access.policy import IDENTIFYING_IDS_SQL, child_and_standings
from feeds.access.rules import sees_identity
from feeds.audit.actions import AuditAction
from feeds.audit.records import SYSTEM
from feeds.clock import utcnow
from feeds.feed.posting import do_create_post
from feeds.models import AuditRecord, Child, Notification, Professional, Role
from feeds.records.shielding import do_shield_child
from server.auth import issue_token
from tests.conftest import Factory

NAME, REFERENCE = "Juniper Shieldwell", "SHLD-4417"
REASON = "Family moved to a refuge on Tuesday"
LABEL = "Shielded child #"


@dataclass
class World:
    child: Child
    lead: Professional  # lead, with a direct grant
    direct: Professional  # a direct personal grant
    member: Professional  # a team grant only
    manager: Professional  # manages the team holding a grant
    stranger: Professional  # no access at all
    admin: Professional

    async def auth(self, who: str) -> dict[str, str]:
        person: Professional = getattr(self, who)
        return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


async def build(make: Factory, shielded: bool = True) -> World:
    lead = await make.professional()
    child = await Child.create(
        display_name=NAME, reference=REFERENCE, lead_professional=lead, school="Refuge School"
    )
    await make.grant(child, professional=lead)
    direct = await make.practitioner(grants=[child])
    member, manager = await make.professional(), await make.professional(role=Role.MANAGER)
    team = await make.team(members=[member], managers=[manager])
    await make.grant(child, team=team)
    world = World(
        child,
        lead,
        direct,
        member,
        manager,
        await make.professional(),
        await make.professional(role=Role.ADMIN),
    )
    await do_create_post(direct, child.id, "concern", "Bruising noticed at the visit", SYSTEM)
    if shielded:
        await do_shield_child(lead, child.id, REASON, SYSTEM)
    return world


def assert_hidden(text: str) -> None:
    assert NAME not in text
    assert REFERENCE not in text
    assert "Refuge School" not in text


# --- who may shield -------------------------------------------------------------------------


async def test_the_lead_shields_with_a_reason_audited_and_others_are_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make, shielded=False)
    url = f"/api/v1/children/{w.child.id}/shield"
    short = await client.post(url, json={"reason": "refuge"}, headers=await w.auth("lead"))
    assert short.status_code == 422
    assert short.json()["error"]["field"] == "reason"
    for who, status in (("member", 403), ("manager", 403), ("direct", 403), ("stranger", 404)):
        refused = await client.post(url, json={"reason": REASON}, headers=await w.auth(who))
        assert refused.status_code == status, who
    done = await client.post(url, json={"reason": REASON}, headers=await w.auth("lead"))
    assert done.status_code == 200, done.text
    assert done.json()["shielded"] is True
    assert done.json()["display_name"] == NAME  # the lead holds a direct grant
    again = await client.post(url, json={"reason": REASON}, headers=await w.auth("lead"))
    assert again.status_code == 409
    shielded = await AuditRecord.filter(action=AuditAction.CHILD_SHIELD, child_id=w.child.id)
    assert [(r.outcome, r.detail.get("reason")) for r in shielded if r.outcome == "ok"] == [
        ("ok", REASON)
    ]
    assert len([r for r in shielded if r.outcome == "denied"]) == 4


async def test_an_administrator_shields_and_lifts_without_seeing_the_child(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make, shielded=False)
    headers = await w.auth("admin")
    done = await client.post(
        f"/api/v1/children/{w.child.id}/shield", json={"reason": REASON}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["display_name"] == f"{LABEL}{w.child.id}"
    assert_hidden(done.text)
    lifted = await client.post(
        f"/api/v1/children/{w.child.id}/unshield",
        json={"reason": "Adoption order made, risk passed"},
        headers=headers,
    )
    assert lifted.status_code == 200
    assert lifted.json()["shielded"] is False
    assert (await Child.get(id=w.child.id)).display_name == NAME  # the record is untouched
    assert await AuditRecord.filter(action=AuditAction.CHILD_UNSHIELD, outcome="ok").count() == 1


async def test_the_shield_form_on_the_child_page_needs_a_confirmation(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make, shielded=False)
    headers = await w.auth("lead")
    page = await client.get(f"/children/{w.child.id}", headers=headers)
    assert "Shield this child" in page.text
    member_page = await client.get(f"/children/{w.child.id}", headers=await w.auth("member"))
    assert "Shield this child" not in member_page.text
    form = {"reason": REASON, "back": f"/children/{w.child.id}"}
    unconfirmed = await client.post(f"/children/{w.child.id}/shield", data=form, headers=headers)
    assert unconfirmed.status_code == 303
    assert (await Child.get(id=w.child.id)).shielded_at is None
    confirmed = {**form, "confirm": "yes"}
    done = await client.post(f"/children/{w.child.id}/shield", data=confirmed, headers=headers)
    assert done.headers["location"].endswith("?shield=done#shield")
    assert (await Child.get(id=w.child.id)).shield_reason == REASON


# --- what each viewer sees -------------------------------------------------------------------


async def test_a_direct_grant_sees_the_name_a_team_grant_the_label_a_stranger_nothing(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    url = f"/api/v1/children/{w.child.id}"
    seen = await client.get(url, headers=await w.auth("direct"))
    assert (seen.json()["display_name"], seen.json()["reference"]) == (NAME, REFERENCE)
    page = await client.get(f"/children/{w.child.id}", headers=await w.auth("direct"))
    assert NAME in page.text and "Shielded" in page.text
    for who in ("member", "manager"):
        shown = await client.get(url, headers=await w.auth(who))
        assert shown.json()["display_name"] == f"{LABEL}{w.child.id}", who
        assert shown.json()["reference"] == ""
        assert_hidden(shown.text)
        for path in ("", "/team", "/family", "/chronology"):
            html = await client.get(f"/children/{w.child.id}{path}", headers=await w.auth(who))
            assert html.status_code == 200, (who, path)
            assert_hidden(html.text)
            assert "Shielded child" in html.text
        assert (
            "Bruising"
            in (await client.get(f"/children/{w.child.id}", headers=await w.auth(who))).text
        )
    for path in (url, f"/children/{w.child.id}", f"/api/v1/children/{w.child.id}/chronology"):
        hidden = await client.get(path, headers=await w.auth("stranger"))
        assert hidden.status_code == 404
        assert_hidden(hidden.text)
        assert "Shielded" not in hidden.text


async def test_lists_boards_and_homes_show_the_label(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    listed = await client.get("/api/v1/children", headers=await w.auth("member"))
    assert [c["display_name"] for c in listed.json()["children"]] == [f"{LABEL}{w.child.id}"]
    assert_hidden(listed.text)
    for path in ("/", "/notifications", "/search?q=bruising", "/api/v1/board", "/board"):
        answer = await client.get(path, headers=await w.auth("manager"))
        assert answer.status_code == 200, path
        assert_hidden(answer.text)
    board = await client.get("/api/v1/board", headers=await w.auth("manager"))
    assert board.json()["rows"][0]["child"] == {
        "id": w.child.id,
        "display_name": f"{LABEL}{w.child.id}",
        "ref": "",
    }
    mine = await client.get("/api/v1/children", headers=await w.auth("direct"))
    assert [c["display_name"] for c in mine.json()["children"]] == [NAME]


async def test_exports_show_the_label_to_a_team_grant(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    base = f"/api/v1/children/{w.child.id}/chronology"
    csv = await client.get(f"{base}.csv", headers=await w.auth("member"))
    assert csv.status_code == 200
    assert_hidden(csv.text)
    assert REFERENCE not in csv.headers["content-disposition"]
    pdf = await client.get(f"{base}.pdf", headers=await w.auth("member"))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert_hidden(text)
    assert "Shielded child" in text
    own = await client.get(f"{base}.pdf", headers=await w.auth("direct"))
    own_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(own.content)).pages)
    assert NAME in own_text


async def test_the_household_shows_a_shielded_sibling_by_its_label(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    sibling = await make.child()
    await make.grant(sibling, professional=w.member)
    linked = await client.post(
        f"/api/v1/children/{sibling.id}/household",
        json={"with_child_id": w.child.id},
        headers=await w.auth("admin"),
    )
    assert linked.status_code == 201, linked.text
    family = await client.get(
        f"/api/v1/children/{sibling.id}/household", headers=await w.auth("member")
    )
    names = {c["display_name"] for c in family.json()["household"]["children"]}
    assert names == {sibling.display_name, f"{LABEL}{w.child.id}"}
    assert_hidden(family.text)
    page = await client.get(f"/children/{sibling.id}/family", headers=await w.auth("member"))
    assert_hidden(page.text)


async def test_access_requests_show_the_label_to_a_manager(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    asker = await make.professional()
    await client.post(
        "/api/v1/access-requests",
        json={"reference": REFERENCE, "role": "school nurse", "reason": "Health checks needed"},
        headers={"authorization": f"Bearer {(await issue_token(asker, 't'))[1]}"},
    )
    waiting = await client.get("/api/v1/access-requests", headers=await w.auth("manager"))
    assert waiting.json()["access_requests"][0]["child"]["display_name"] == f"{LABEL}{w.child.id}"
    assert_hidden(waiting.text)
    lead_view = await client.get("/api/v1/access-requests", headers=await w.auth("lead"))
    assert lead_view.json()["access_requests"][0]["child"]["reference"] == REFERENCE


# --- audit and break-glass ------------------------------------------------------------------


async def test_every_read_of_a_shielded_record_is_marked(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    plain = await make.child()
    await make.grant(plain, professional=w.member)
    for child in (w.child, plain):
        assert (
            await client.get(f"/children/{child.id}", headers=await w.auth("member"))
        ).status_code == 200
    reads = await AuditRecord.filter(action=AuditAction.FEED_READ, actor_id=w.member.id)
    marks = {r.child_id: r.detail.get("shielded") for r in reads}
    assert marks == {w.child.id: True, plain.id: None}


async def test_break_glass_on_a_shielded_child_alerts_every_administrator(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make)
    second_admin = await make.professional(role=Role.ADMIN)
    opened = await client.post(
        f"/api/v1/children/{w.child.id}/break-glass",
        json={"reason": "Child at A&E, need the history now"},
        headers=await w.auth("stranger"),
    )
    assert opened.status_code == 201, opened.text
    alerted: list[Any] = await Notification.filter(kind=SHIELDED_ALERT).values_list(
        "recipient_id", flat=True
    )
    assert sorted(alerted) == sorted([w.admin.id, second_admin.id])
    feed = await client.get(f"/children/{w.child.id}", headers=await w.auth("stranger"))
    assert feed.status_code == 200
    assert_hidden(feed.text)  # emergency access sees the label too
    inbox = await client.get("/notifications", headers=await w.auth("admin"))
    assert "Emergency access to a shielded child" in inbox.text
    review = await client.get("/admin/break-glass", headers=await w.auth("admin"))
    assert f"{LABEL}{w.child.id}" in review.text
    assert_hidden(review.text)
    opening = await AuditRecord.get(action=AuditAction.BREAK_GLASS_OPEN, outcome="ok")
    assert opening.detail["shielded"] is True


async def test_ordinary_break_glass_alerts_no_administrator(
    client: httpx.AsyncClient, make: Factory
) -> None:
    w = await build(make, shielded=False)
    opened = await client.post(
        f"/api/v1/children/{w.child.id}/break-glass",
        json={"reason": "Child at A&E, need the history now"},
        headers=await w.auth("stranger"),
    )
    assert opened.status_code == 201
    assert await Notification.filter(kind=SHIELDED_ALERT).count() == 0


# --- one rule, two forms -------------------------------------------------------------------


@pytest.mark.parametrize("who", ["lead", "direct", "member", "manager", "stranger", "admin"])
async def test_the_bulk_form_agrees_with_the_standings_rule(make: Factory, who: str) -> None:
    w = await build(make)
    person: Professional = getattr(w, who)
    child, standings = await child_and_standings(person, w.child.id)
    assert child is not None
    rule = sees_identity(standings, shielded=True)
    assert (w.child.id in await identity.identified_ids(person, [w.child.id])) == rule
    shown = await identity.seen_child(person, child)
    assert (shown.display_name == NAME) == rule
    assert rule == (who in ("lead", "direct"))
    sql = f"SELECT c.id FROM child c WHERE c.id IN ({IDENTIFYING_IDS_SQL})"  # noqa: S608
    assert bool(await raw_sql.fetch(sql, utcnow(), person.id)) == rule
