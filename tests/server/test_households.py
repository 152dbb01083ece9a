"""Households through the JSON API and the family page (issue 16, part 4): linking and
unlinking, what a family shows to viewers who may see some siblings and not others, and
asking to join a sibling you cannot see without ever learning who it is."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import httpx
import pytest

from feeds.models import AuditRecord, Child, Notification, Post, PostKind, Professional, Role
from feeds.network.models import AccessRequest, ChildEvent, HouseholdMember
from feeds.network.requests import SENT
from server.auth import issue_token
from tests.conftest import Factory

ASK = {"role": "school nurse", "reason": "Health checks for the whole family at Northgate"}


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


@dataclass
class Family:
    a: Child  # seen by `viewer`
    b: Child  # hidden from `viewer`: its name, reference and posts must never reach them
    lead_a: Professional
    lead_b: Professional
    viewer: Professional  # a practitioner who sees a only
    both: Professional  # a practitioner who sees both
    admin: Professional


async def led(make: Factory, name: str, reference: str) -> tuple[Child, Professional]:
    lead = await make.professional(name=f"Lead of {name}")
    child = await Child.create(display_name=name, reference=reference, lead_professional=lead)
    await make.grant(child, professional=lead)
    return child, lead


async def family(make: Factory, client: httpx.AsyncClient, linked: bool = True) -> Family:
    a, lead_a = await led(make, "Ava Quill", "HH-A-1001")
    b, lead_b = await led(make, "Zed Hiddensworth", "HH-B-2002")
    viewer = await make.practitioner(grants=[a])
    both = await make.practitioner(grants=[a, b])
    admin = await make.professional(role=Role.ADMIN)
    found = Family(a, b, lead_a, lead_b, viewer, both, admin)
    if linked:
        response = await link(client, admin, b, a)
        assert response.status_code == 201, response.text
    return found


async def link(
    client: httpx.AsyncClient,
    person: Professional,
    child: Child,
    with_child: Child,
    relationship: str = "sibling",
) -> httpx.Response:
    return await client.post(
        f"/api/v1/children/{child.id}/household",
        json={"with_child_id": with_child.id, "relationship": relationship},
        headers=await bearer(person),
    )


async def household(
    client: httpx.AsyncClient, person: Professional, child: Child
) -> httpx.Response:
    return await client.get(f"/api/v1/children/{child.id}/household", headers=await bearer(person))


async def post(child: Child, author: Professional, body: str, kind: PostKind) -> Post:
    return await Post.create(child=child, author=author, kind=kind, body=body)


def assert_nothing_of(b: Child, text: str, *canaries: str) -> None:
    for secret in (b.display_name, b.reference, *canaries):
        assert secret not in text, secret


async def test_a_lead_links_two_children_and_each_feed_says_so_naming_no_one(
    client: httpx.AsyncClient, make: Factory
) -> None:
    a, lead = await led(make, "Ava Quill", "HH-A-1001")
    b = await make.child(lead=lead)
    await make.grant(b, professional=lead)
    response = await link(client, lead, b, a, "shares_home")
    assert response.status_code == 201
    household_id = response.json()["household_id"]
    members = await HouseholdMember.filter(household_id=household_id).order_by("child_id")
    assert [(m.child_id, m.relationship) for m in members] == [
        (a.id, "shares_home"),
        (b.id, "shares_home"),
    ]
    entries = await ChildEvent.filter(child_id__in=[a.id, b.id]).values_list("child_id", "kind")
    assert sorted(entries) == sorted(
        [(a.id, "household_joined"), (b.id, "household_joined"), (a.id, "household_child_joined")]
    )
    records = await AuditRecord.filter(action="household.link").order_by("id")
    assert [(r.child_id, r.outcome) for r in records] == [(a.id, "ok"), (b.id, "ok")]
    again = await link(client, lead, b, a)  # already together: nothing changes
    assert (again.status_code, again.json()) == (200, {"household_id": household_id})
    page = await client.get(f"/children/{a.id}", headers=await bearer(lead))
    assert "Another child was linked into this household" in page.text
    assert f'href="/children/{a.id}/family"' in page.text


async def test_who_may_link_is_the_lead_managers_and_administrators(
    client: httpx.AsyncClient, make: Factory
) -> None:
    found = await family(make, client, linked=False)
    c = await make.child(lead=found.lead_a)
    await make.grant(c, professional=found.lead_a)
    await make.grant(c, professional=found.viewer)
    refused = await link(client, found.viewer, c, found.a)  # sees both, leads neither
    assert refused.status_code == 403
    assert "lead" in refused.json()["error"]["message"]
    # A child named to join that the linker cannot see is the same 404 as none at all.
    hidden = await link(client, found.lead_a, c, found.b)
    absent = await client.post(
        f"/api/v1/children/{c.id}/household",
        json={"with_child_id": 999999},
        headers=await bearer(found.lead_a),
    )
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json() == absent.json()
    assert_nothing_of(found.b, hidden.text)
    manager = await make.manager_of(c, found.a)
    assert (await link(client, manager, c, found.a)).status_code == 201
    denied = await AuditRecord.filter(action="household.link", outcome="denied").count()
    assert denied == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"with_child_id": 0}, "with_child_id"),
        ({"with_child_id": "7"}, "with_child_id"),
        ({"with_child_id": 5, "relationship": "cousin"}, "relationship"),
        ({}, "with_child_id"),
    ],
)
async def test_bad_link_input_is_a_422_saying_what(
    client: httpx.AsyncClient, make: Factory, body: dict[str, object], field: str
) -> None:
    a, lead = await led(make, "Ava Quill", "HH-A-1001")
    response = await client.post(
        f"/api/v1/children/{a.id}/household", json=body, headers=await bearer(lead)
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_a_child_is_linked_to_itself_or_into_a_second_household_never(
    client: httpx.AsyncClient, make: Factory
) -> None:
    found = await family(make, client)
    itself = await link(client, found.lead_a, found.a, found.a)
    assert (itself.status_code, itself.json()["error"]["field"]) == (422, "with_child_id")
    c, lead_c = await led(make, "Cy Other", "HH-C-3003")
    d = await make.child(lead=lead_c)
    await make.grant(d, professional=lead_c)
    await make.grant(found.a, professional=lead_c)
    assert (await link(client, lead_c, c, d)).status_code == 201
    moved = await link(client, lead_c, c, found.a)
    assert moved.status_code == 409
    assert "unlink it first" in moved.json()["error"]["message"]


async def test_a_viewer_sees_the_sibling_they_may_see_and_only_a_slot_for_the_other(
    client: httpx.AsyncClient, make: Factory
) -> None:
    found = await family(make, client)
    await post(found.a, found.lead_a, "Ava seemed tired at breakfast club", PostKind.UPDATE)
    await post(found.b, found.lead_b, "CANARY-B-7731 bruise on arm", PostKind.CONCERN)
    await post(found.b, found.lead_b, "CANARY-B-7732 missed nursery", PostKind.HUNCH)
    response = await household(client, found.viewer, found.a)
    assert response.status_code == 200
    shown = response.json()["household"]
    assert [c["id"] for c in shown["children"]] == [found.a.id]
    assert shown["children"][0]["relationship"] == "sibling"
    assert set(shown["children"][0]["velocity"]) == {"flagged", "score", "reasons", "gone_quiet"}
    [slot] = shown["hidden"]
    assert set(slot) == {"slot", "text"}
    assert slot["text"] == "Another child in this household whom you cannot see"
    assert [p["body"] for p in shown["posts"]] == ["Ava seemed tired at breakfast club"]
    assert shown["concerns"] == []
    assert_nothing_of(found.b, response.text, "CANARY-B", f'"child_id":{found.b.id}')
    page = await client.get(f"/children/{found.a.id}/family", headers=await bearer(found.viewer))
    assert page.status_code == 200
    assert "Another child in this household whom you cannot see" in page.text
    assert "Ask to join" in page.text and "Ava Quill" in page.text
    assert_nothing_of(found.b, page.text, "CANARY-B", f"/children/{found.b.id}")
    # Asked through the hidden child: the same 404 as for any child they cannot see.
    assert (await household(client, found.viewer, found.b)).status_code == 404
    hidden_page = await client.get(
        f"/children/{found.b.id}/family", headers=await bearer(found.viewer)
    )
    assert hidden_page.status_code == 404
    assert_nothing_of(found.b, hidden_page.text, "CANARY-B")


async def test_someone_who_sees_both_sees_each_sibling_and_the_concerns_about_either(
    client: httpx.AsyncClient, make: Factory
) -> None:
    found = await family(make, client)
    await post(found.a, found.lead_a, "Ava seemed tired at breakfast club", PostKind.UPDATE)
    await post(found.b, found.lead_b, "Bruise on Zed's arm, says he fell", PostKind.CONCERN)
    shown = (await household(client, found.both, found.a)).json()["household"]
    assert {c["display_name"] for c in shown["children"]} == {"Ava Quill", "Zed Hiddensworth"}
    assert shown["hidden"] == []
    assert [p["body"] for p in shown["posts"]] == [
        "Bruise on Zed's arm, says he fell",
        "Ava seemed tired at breakfast club",
    ]
    assert [p["child_id"] for p in shown["concerns"]] == [found.b.id]
    page = await client.get(f"/children/{found.a.id}/family", headers=await bearer(found.both))
    assert "Bruise on Zed&#39;s arm" in page.text and "Zed Hiddensworth" in page.text
    # One read, one record per child whose record it showed.
    records = await AuditRecord.filter(actor_id=found.both.id, action="household.read")
    assert Counter(r.child_id for r in records) == Counter([found.a.id, found.b.id] * 2)


async def test_asking_for_a_hidden_sibling_never_shows_its_reference(
    client: httpx.AsyncClient, make: Factory
) -> None:
    found = await family(make, client)
    shown = (await household(client, found.viewer, found.a)).json()["household"]
    slot = shown["hidden"][0]["slot"]
    headers = await bearer(found.viewer)
    url = f"/api/v1/children/{found.a.id}/household/ask"
    asked = await client.post(url, json={"slot": slot, **ASK}, headers=headers)
    assert (asked.status_code, asked.json()) == (202, {"message": SENT})
    stored = await AccessRequest.get(requester_id=found.viewer.id)
    assert stored.child_id == found.b.id
    assert found.b.reference not in stored.reference
    notified = await Notification.filter(recipient_id=found.lead_b.id, kind="access_request")
    assert len(notified) == 1
    mine = await client.get("/api/v1/access-requests/mine", headers=headers)
    assert_nothing_of(found.b, mine.text)
    record = await AuditRecord.get(actor_id=found.viewer.id, action="access_request.create")
    assert record.child_id == found.b.id
    # The lead of the hidden child sees who asks, and approving lets them in.
    waiting = await client.get("/api/v1/access-requests", headers=await bearer(found.lead_b))
    [request] = waiting.json()["access_requests"]
    assert request["requester"]["id"] == found.viewer.id
    # The same answer for a slot they can already see; another household's slot is a 404.
    own_slot = shown_slot = (await HouseholdMember.get(child_id=found.a.id)).id
    same = await client.post(url, json={"slot": own_slot, **ASK}, headers=headers)
    assert (same.status_code, same.content) == (202, asked.content)
    c, lead_c = await led(make, "Cy Other", "HH-C-3003")
    d = await make.child(lead=lead_c)
    await make.grant(d, professional=lead_c)
    assert (await link(client, lead_c, c, d)).status_code == 201
    elsewhere = (await HouseholdMember.get(child_id=c.id)).id
    other = await client.post(url, json={"slot": elsewhere, **ASK}, headers=headers)
    assert other.status_code == 404
    assert shown_slot != elsewhere
    short = await client.post(url, json={"slot": slot, "role": "x", "reason": "y"}, headers=headers)
    assert (short.status_code, short.json()["error"]["field"]) == (422, "role")


async def test_asking_from_the_family_page_keeps_the_reference_hidden(
    client: httpx.AsyncClient, make: Factory
) -> None:
    found = await family(make, client)
    headers = await bearer(found.viewer)
    slot = (await HouseholdMember.get(child_id=found.b.id)).id
    form = {"slot": str(slot), **ASK}
    response = await client.post(f"/children/{found.a.id}/family/ask", data=form, headers=headers)
    assert response.status_code == 303
    assert response.headers["location"] == f"/children/{found.a.id}/family?asked=1#hidden"
    page = await client.get(response.headers["location"], headers=headers)
    assert "Sent to the lead professional" in page.text
    assert_nothing_of(found.b, page.text)
    listed = await client.get("/access-requests", headers=headers)
    assert f"household slot {slot}" in listed.text
    assert_nothing_of(found.b, listed.text)
    bad = await client.post(
        f"/children/{found.a.id}/family/ask", data={**form, "reason": "short"}, headers=headers
    )
    assert bad.status_code == 422 and "Say why" in bad.text


async def test_unlinking_takes_one_child_out_and_tells_each_feed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    found = await family(make, client)
    url = f"/api/v1/children/{found.b.id}/household"
    assert (await client.delete(url, headers=await bearer(found.viewer))).status_code == 404
    assert (await client.delete(url, headers=await bearer(found.both))).status_code == 403
    assert (await client.delete(url, headers=await bearer(found.lead_b))).status_code == 204
    assert not await HouseholdMember.exists(child_id=found.b.id)
    assert await HouseholdMember.exists(child_id=found.a.id)
    kinds = await ChildEvent.filter(
        kind__in=["household_left", "household_child_left"]
    ).values_list("child_id", "kind")
    assert sorted(kinds) == sorted(
        [(found.b.id, "household_left"), (found.a.id, "household_child_left")]
    )
    again = await client.delete(url, headers=await bearer(found.lead_b))
    assert again.status_code == 409
    shown = (await household(client, found.viewer, found.a)).json()["household"]
    assert shown["hidden"] == []
    assert (await household(client, found.lead_b, found.b)).json() == {"household": None}


async def test_the_family_page_links_and_unlinks_for_the_lead(
    client: httpx.AsyncClient, make: Factory
) -> None:
    a, lead = await led(make, "Ava Quill", "HH-A-1001")
    b = await Child.create(display_name="Bo Quill", reference="HH-B-1002", lead_professional=lead)
    await make.grant(b, professional=lead)
    headers = await bearer(lead)
    page = await client.get(f"/children/{b.id}/family", headers=headers)
    assert "is not linked to a household" in page.text and "Ava Quill (HH-A-1001)" in page.text
    linked = await client.post(
        f"/children/{b.id}/family",
        data={"with_child_id": str(a.id), "relationship": "sibling"},
        headers=headers,
    )
    assert linked.status_code == 303
    page = await client.get(f"/children/{b.id}/family", headers=headers)
    assert 'id="family-child-' in page.text and "Ava Quill" in page.text
    assert "Unlink Bo Quill" in page.text
    left = await client.post(f"/children/{b.id}/family/leave", data={}, headers=headers)
    assert left.status_code == 303
    assert not await HouseholdMember.exists(child_id=b.id)
    bad = await client.post(
        f"/children/{b.id}/family", data={"with_child_id": "x"}, headers=headers
    )
    assert bad.status_code == 422 and "Choose a child" in bad.text


async def test_the_board_groups_a_managers_children_by_household(
    client: httpx.AsyncClient, make: Factory
) -> None:
    found = await family(make, client)
    c, _ = await led(make, "Cy Other", "HH-C-3003")
    hidden, _ = await led(make, "Dee Unseen", "HH-D-4004")
    manager = await make.manager_of(found.a, c, found.b)
    await link(client, found.admin, hidden, found.a)
    headers = await bearer(manager)
    plain = (await client.get("/api/v1/board", headers=headers)).json()["rows"]
    # Nothing posted: ranked by name, Cy comes between Ava and Zed.
    assert [r["child"]["id"] for r in plain] == [found.a.id, c.id, found.b.id]
    grouped = await client.get("/api/v1/board?group=household", headers=headers)
    rows = grouped.json()["rows"]
    assert {r["child"]["id"] for r in rows} == {r["child"]["id"] for r in plain}
    ids = [r["child"]["id"] for r in rows]
    together = sorted([ids.index(found.a.id), ids.index(found.b.id)])
    assert together[1] - together[0] == 1
    households = {r["child"]["id"]: r["household_id"] for r in rows}
    assert households[found.a.id] == households[found.b.id] is not None
    assert households[c.id] is None
    assert_nothing_of(hidden, grouped.text)
    page = await client.get("/board?group=household", headers=headers)
    assert page.status_code == 200
    assert "2 children on your board" in page.text and "One row per child" in page.text
    assert_nothing_of(hidden, page.text)
    bad = await client.get("/api/v1/board?group=family", headers=headers)
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "group")
