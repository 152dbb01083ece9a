"""Merging two records of the same child, and an administrator's undo (issue 21), through
the JSON API, the pages and the reference lookups, on both databases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from feeds.audit.records import SYSTEM
from feeds.clock import utcnow
from feeds.lookup import child_by_reference
from feeds.models import (
    AuditRecord,
    Child,
    ChildActivityDay,
    ChildVisit,
    Follow,
    Grant,
    Notification,
    Post,
    PostKind,
    Professional,
    Role,
    SearchOutbox,
)
from feeds.network.models import AccessRequest, Household, HouseholdMember
from feeds.network.requests import do_request_access
from feeds.records.children import do_close_child
from feeds.records.models import ChildMerge
from feeds.velocity.tallies import rebuild_days
from server.auth import issue_token
from tests.conftest import Factory
from tests.mfa_helpers import post_form
from tests.server.test_admin_pages import signed_in

REASON = "Same child: two referrals made the same week, same date of birth"


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


@dataclass
class Twins:
    survivor: Child
    duplicate: Child
    manager: Professional  # manages both (a team around each)
    only_duplicate: Professional  # a practitioner who sees only the duplicate
    only_survivor: Professional
    stranger: Professional
    admin: Professional


async def twins(make: Factory) -> Twins:
    survivor, duplicate = await make.child(), await make.child()
    return Twins(
        survivor,
        duplicate,
        await make.manager_of(survivor, duplicate),
        await make.practitioner(grants=[duplicate]),
        await make.practitioner(grants=[survivor]),
        await make.practitioner(),
        await make.professional(role=Role.ADMIN),
    )


async def merge(
    client: httpx.AsyncClient, actor: Professional, survivor: Child, **body: Any
) -> httpx.Response:
    fields = {"reason": REASON, **body}
    path = f"/api/v1/children/{survivor.id}/merge"
    return await client.post(path, json=fields, headers=await bearer(actor))


async def undo(client: httpx.AsyncClient, actor: Professional, merge_id: int) -> httpx.Response:
    path = f"/api/v1/admin/merges/{merge_id}/undo"
    body = {"reason": "Not the same child after all"}
    return await client.post(path, json=body, headers=await bearer(actor))


async def post(child: Child, author: Professional, body: str) -> Post:
    return await Post.create(child=child, author=author, kind=PostKind.HUNCH, body=body)


async def audit_of(action: str) -> list[tuple[int | None, str, Any]]:
    rows = await AuditRecord.filter(action=action).order_by("id")
    return [(r.child_id, r.outcome, r.detail) for r in rows]


async def test_a_merge_moves_everything_and_both_references_find_the_survivor(
    client: httpx.AsyncClient, make: Factory
) -> None:
    t = await twins(make)
    mine = await post(t.duplicate, t.only_duplicate, "dad's car outside again")
    kept = await post(t.survivor, t.only_survivor, "quiet at school")
    await rebuild_days([t.duplicate.id, t.survivor.id])
    await Follow.create(child=t.duplicate, professional=t.only_duplicate)
    await Notification.create(recipient=t.manager, kind="mention", child_id=t.duplicate.id)
    sibling = await make.child()
    household = await Household.create(created_at=utcnow())
    for member in (t.duplicate, sibling):
        await HouseholdMember.create(
            household=household, child=member, relationship="sibling", linked_at=utcnow()
        )

    done = await merge(client, t.manager, t.survivor, merged_reference=t.duplicate.reference)

    assert done.status_code == 201, done.text
    answer = done.json()
    assert answer["merged_reference"] == t.duplicate.reference
    assert answer["moved"] == {
        "posts": 1,
        "grants": 2,  # the practitioner's and the manager's team's
        "follows": 1,
        "child_events": 0,
        "worry_shares": 0,
        "notifications": 1,
        "household": 1,
    }
    assert (await Post.get(id=mine.id)).child_id == t.survivor.id
    assert (await HouseholdMember.get(child_id=t.survivor.id)).household_id == household.id
    assert await Follow.exists(child_id=t.survivor.id, professional_id=t.only_duplicate.id)
    assert await Notification.exists(recipient_id=t.manager.id, child_id=t.survivor.id)
    assert (await Child.get(id=t.duplicate.id)).merged_into_id == t.survivor.id
    # Both references find the survivor: an administrator's filter, asking to join.
    assert await child_by_reference(t.duplicate.reference) == t.survivor.id
    asker = await make.practitioner()
    await do_request_access(asker, t.duplicate.reference, "school nurse", REASON, SYSTEM)
    assert (await AccessRequest.get(requester_id=asker.id)).child_id == t.survivor.id
    # Derived data follows: the day tallies, the search index.
    days: list[Any] = await ChildActivityDay.filter(child_id=t.survivor.id).values_list(
        "posts", flat=True
    )
    assert sum(days) == 2
    assert not await ChildActivityDay.filter(child_id=t.duplicate.id).exists()
    queued = await SearchOutbox.filter(post_id=mine.id, child_id=t.survivor.id, op="index")
    assert len(queued) == 1
    # Whoever saw the duplicate sees the survivor, with both records' posts.
    feed = await client.get(
        f"/api/v1/children/{t.survivor.id}/posts", headers=await bearer(t.only_duplicate)
    )
    assert {p["id"] for p in feed.json()["posts"]} == {mine.id, kept.id}
    # Audited on both children, with who and why.
    records = await audit_of("child.merge")
    assert [(child, outcome) for child, outcome, _ in records] == [
        (t.survivor.id, "ok"),
        (t.duplicate.id, "ok"),
    ]
    assert all(detail["reason"] == REASON for _, _, detail in records)
    by: list[Any] = await AuditRecord.filter(action="child.merge").values_list(
        "actor_id", flat=True
    )
    assert set(by) == {t.manager.id}


async def test_a_merged_record_redirects_those_who_see_the_survivor_and_is_absent_to_others(
    client: httpx.AsyncClient, make: Factory
) -> None:
    t = await twins(make)
    done = await merge(client, t.admin, t.survivor, merged_id=t.duplicate.id)
    assert done.status_code == 201, done.text
    for path in (f"/api/v1/children/{t.duplicate.id}", f"/children/{t.duplicate.id}"):
        seen = await client.get(path, headers=await bearer(t.only_survivor))
        assert seen.status_code == 303, path
        assert seen.headers["location"].endswith(f"/children/{t.survivor.id}")
    hidden = await client.get(
        f"/api/v1/children/{t.duplicate.id}", headers=await bearer(t.stranger)
    )
    absent = await client.get("/api/v1/children/999999", headers=await bearer(t.stranger))
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json() == absent.json()
    assert t.duplicate.display_name not in hidden.text
    # Nobody reaches the merged record itself: no posting, no emergency access.
    posting = await client.post(
        f"/api/v1/children/{t.duplicate.id}/posts",
        json={"kind": "update", "body": "seen"},
        headers=await bearer(t.only_duplicate),
    )
    assert posting.status_code == 404
    glass = await client.post(
        f"/api/v1/children/{t.duplicate.id}/break-glass",
        json={"reason": "missing overnight, police asking"},
        headers=await bearer(t.stranger),
    )
    assert glass.status_code == 404


async def test_access_comes_with_the_moved_grants_and_nobody_else_gains_any(
    client: httpx.AsyncClient, make: Factory
) -> None:
    t = await twins(make)
    before = {p.id: await Grant.filter(professional_id=p.id).count() for p in (t.stranger,)}
    await post(t.survivor, t.only_survivor, "seen at the clinic")
    assert (await merge(client, t.manager, t.survivor, merged_id=t.duplicate.id)).status_code == 201
    for person, status in ((t.only_duplicate, 200), (t.only_survivor, 200), (t.stranger, 404)):
        feed = await client.get(
            f"/api/v1/children/{t.survivor.id}/posts", headers=await bearer(person)
        )
        assert feed.status_code == status, person.email
    assert await Grant.filter(professional_id=t.stranger.id).count() == before[t.stranger.id]


async def test_grants_for_the_same_holder_keep_the_longer_and_undo_restores_them(
    client: httpx.AsyncClient, make: Factory
) -> None:
    t = await twins(make)
    both = await make.practitioner()
    short = await Grant.create(
        child=t.survivor, professional=both, expires_at=utcnow() + timedelta(days=5)
    )
    long = await make.grant(t.duplicate, professional=both)  # no expiry
    done = await merge(client, t.manager, t.survivor, merged_id=t.duplicate.id)
    assert done.status_code == 201, done.text
    live = await Grant.filter(
        child_id=t.survivor.id, professional_id=both.id, revoked_at__isnull=True
    )
    assert [g.id for g in live] == [long.id]
    assert (await Grant.get(id=short.id)).revoked_by_id == t.manager.id

    back = await undo(client, t.admin, done.json()["id"])

    assert back.status_code == 200, back.text
    assert (await Grant.get(id=short.id)).revoked_at is None
    assert (await Grant.get(id=long.id)).child_id == t.duplicate.id


async def test_undo_moves_back_exactly_what_moved(client: httpx.AsyncClient, make: Factory) -> None:
    t = await twins(make)
    old = await post(t.duplicate, t.only_duplicate, "bruise on the left arm")
    done = await merge(client, t.manager, t.survivor, merged_reference=t.duplicate.reference)
    merge_id = done.json()["id"]
    since = await post(t.survivor, t.only_duplicate, "written after the merge")
    assert (await undo(client, t.manager, merge_id)).status_code == 403  # administrators only

    back = await undo(client, t.admin, merge_id)

    assert back.status_code == 200, back.text
    assert back.json()["undone_by_id"] == t.admin.id
    assert (await Post.get(id=old.id)).child_id == t.duplicate.id
    assert (await Post.get(id=since.id)).child_id == t.survivor.id  # stays where written
    assert (await Child.get(id=t.duplicate.id)).merged_into_id is None
    assert await child_by_reference(t.duplicate.reference) == t.duplicate.id
    assert (
        await client.get(
            f"/api/v1/children/{t.survivor.id}", headers=await bearer(t.only_duplicate)
        )
    ).status_code == 404
    assert [(c, o) for c, o, _ in await audit_of("child.unmerge")] == [
        (t.survivor.id, "denied"),  # the manager's try
        (t.survivor.id, "ok"),
        (t.duplicate.id, "ok"),
    ]
    again = await undo(client, t.admin, merge_id)
    assert again.status_code == 409
    assert "undone already" in again.json()["error"]["message"]


async def visit(person: Professional, child: Child, seen: Post) -> ChildVisit:
    return await ChildVisit.create(
        professional=person, child=child, last_seen_post_id=seen.id, seen_at=utcnow()
    )


async def test_last_visit_markers_move_to_the_survivor_keeping_the_later_and_undo_restores(
    client: httpx.AsyncClient, make: Factory
) -> None:
    t = await twins(make)
    early = await post(t.survivor, t.only_survivor, "first note on the survivor")
    middle = await post(t.duplicate, t.only_duplicate, "first note on the duplicate")
    late = await post(t.survivor, t.only_survivor, "second note on the survivor")
    reader = await make.practitioner(grants=[t.survivor, t.duplicate])
    only_there = await visit(t.only_duplicate, t.duplicate, middle)  # moves
    behind = await visit(t.manager, t.survivor, early)  # the duplicate's is later: taken
    ahead_there = await visit(t.manager, t.duplicate, middle)
    ahead = await visit(reader, t.survivor, late)  # the survivor's is later: kept
    await visit(reader, t.duplicate, middle)

    done = await merge(client, t.manager, t.survivor, merged_id=t.duplicate.id)

    assert done.status_code == 201, done.text
    assert (await ChildVisit.get(id=only_there.id)).child_id == t.survivor.id
    assert (await ChildVisit.get(id=behind.id)).last_seen_post_id == middle.id
    assert (await ChildVisit.get(id=ahead.id)).last_seen_post_id == late.id
    on_survivor = await ChildVisit.filter(child_id=t.survivor.id).count()
    assert on_survivor == 3  # one marker per person on the survivor

    back = await undo(client, t.admin, done.json()["id"])

    assert back.status_code == 200, back.text
    assert (await ChildVisit.get(id=only_there.id)).child_id == t.duplicate.id
    restored = await ChildVisit.get(id=behind.id)
    assert (restored.child_id, restored.last_seen_post_id) == (t.survivor.id, early.id)
    assert restored.seen_at == behind.seen_at
    assert (await ChildVisit.get(id=ahead_there.id)).child_id == t.duplicate.id
    assert (await ChildVisit.get(id=ahead.id)).last_seen_post_id == late.id


async def test_a_merge_older_than_30_days_cannot_be_undone(
    client: httpx.AsyncClient, make: Factory
) -> None:
    t = await twins(make)
    done = await merge(client, t.admin, t.survivor, merged_id=t.duplicate.id)
    merge_id = done.json()["id"]
    await ChildMerge.filter(id=merge_id).update(at=utcnow() - timedelta(days=31))
    late = await undo(client, t.admin, merge_id)
    assert late.status_code == 409
    assert "30 days" in late.json()["error"]["message"]
    listed = await client.get("/api/v1/admin/merges", headers=await bearer(t.admin))
    assert listed.json() == {"merges": []}
    assert (await undo(client, t.admin, 999999)).status_code == 404


@pytest.mark.parametrize(
    ("who", "body", "status", "outcome"),
    [
        ("only_survivor", {"merged_id": "duplicate"}, 403, "denied"),  # sees it, may not change
        ("stranger", {"merged_id": "duplicate"}, 404, "denied"),
        ("other_manager", {"merged_id": "duplicate"}, 404, "denied"),  # manages the survivor only
        ("manager", {"merged_id": "survivor"}, 422, "denied"),
        ("manager", {"merged_reference": "T-999999"}, 404, "denied"),
        ("manager", {"merged_id": "duplicate", "merged_reference": "T-1"}, 422, None),
        ("manager", {"merged_id": "duplicate", "reason": "dup"}, 422, None),  # bad input
        ("manager", {"merged_id": "closed"}, 409, "closed"),
        ("manager", {"merged_id": "elsewhere"}, 409, "denied"),  # in another household
        ("admin", {"merged_id": "merged"}, 409, "merged"),  # merged already
    ],
)
async def test_refusals_are_answered_and_audited_once(
    client: httpx.AsyncClient,
    make: Factory,
    who: str,
    body: dict[str, Any],
    status: int,
    outcome: str | None,
) -> None:
    t = await twins(make)
    people = vars(t) | {"other_manager": await make.manager_of(t.survivor)}
    children = {"survivor": t.survivor, "duplicate": t.duplicate}
    children["closed"] = await make.child()
    await make.grant(children["closed"], team=await _team_of(t.manager))
    await do_close_child(t.admin, children["closed"].id, SYSTEM)
    children["elsewhere"] = await _in_two_households(make, t)
    children["merged"] = await make.child()
    await merge(client, t.admin, t.duplicate, merged_id=children["merged"].id)
    named = {k: (children[v].id if k == "merged_id" else v) for k, v in body.items()}
    since = await AuditRecord.all().order_by("-id").first()
    assert since is not None

    refused = await merge(client, people[who], t.survivor, **named)

    assert refused.status_code == status, refused.text
    assert (await Child.get(id=t.duplicate.id)).merged_into_id is None
    decided = await AuditRecord.filter(id__gt=since.id).values_list("action", "outcome")
    assert decided == ([("child.merge", outcome)] if outcome else [])


async def _team_of(manager: Professional) -> Any:
    from feeds.models import Team, TeamMember

    row = await TeamMember.get(professional_id=manager.id)
    return await Team.get(id=row.team_id)


async def _in_two_households(make: Factory, t: Twins) -> Child:
    """A record the manager manages, in a household other than the survivor's."""
    other = await make.child()
    await make.grant(other, team=await _team_of(t.manager))
    for child in (t.survivor, other):
        home = await Household.create(created_at=utcnow())
        await HouseholdMember.create(
            household=home, child=child, relationship="sibling", linked_at=utcnow()
        )
    return other


async def test_a_manager_merges_with_a_confirmation_and_an_admin_undoes_it_on_the_pages(
    client: httpx.AsyncClient, make: Factory, app: Any
) -> None:
    t = await twins(make)
    await post(t.duplicate, t.only_duplicate, "missed the appointment")
    await signed_in(client, t.manager)
    record = await client.get(f"/children/{t.survivor.id}/record")
    assert f'href="/children/{t.survivor.id}/merge"' in record.text
    preview = await client.get(
        f"/children/{t.survivor.id}/merge", params={"reference": t.duplicate.reference}
    )
    assert preview.status_code == 200
    assert "<strong>1</strong> post" in preview.text
    assert (await Child.get(id=t.duplicate.id)).merged_into_id is None  # nothing moved yet
    page = f"/children/{t.survivor.id}/merge?reference={t.duplicate.reference}"
    done = await post_form(
        client,
        page,
        f"/children/{t.survivor.id}/merge",
        merged_reference=t.duplicate.reference,
        reason=REASON,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/children/{t.survivor.id}/record?done=merged"
    assert (await Child.get(id=t.duplicate.id)).merged_into_id == t.survivor.id

    from tests.conftest import client_for

    async with client_for(app) as admin:
        await signed_in(admin, t.admin)
        listed = await admin.get("/admin/merges")
        assert t.duplicate.reference in listed.text and REASON in listed.text
        merge_id = (await ChildMerge.get(merged_id=t.duplicate.id)).id
        undone = await post_form(
            admin, "/admin/merges", f"/admin/merges/{merge_id}/undo", reason="Different children"
        )
        assert undone.status_code == 303, undone.text
    assert (await Child.get(id=t.duplicate.id)).merged_into_id is None


async def test_merging_the_survivor_again_keeps_every_reference_one_hop_away(
    client: httpx.AsyncClient, make: Factory
) -> None:
    t = await twins(make)
    third = await make.child()
    first = await merge(client, t.admin, t.survivor, merged_id=t.duplicate.id)
    assert (await merge(client, t.admin, third, merged_id=t.survivor.id)).status_code == 201
    assert (await Child.get(id=t.duplicate.id)).merged_into_id == third.id
    assert await child_by_reference(t.duplicate.reference) == third.id
    refused = await undo(client, t.admin, first.json()["id"])
    assert refused.status_code == 409
    assert "undo that merge first" in refused.json()["error"]["message"]


async def test_only_administrators_see_and_undo_merges(
    client: httpx.AsyncClient, make: Factory
) -> None:
    t = await twins(make)
    done = await merge(client, t.manager, t.survivor, merged_id=t.duplicate.id)
    for person in (t.manager, t.only_survivor):
        listed = await client.get("/api/v1/admin/merges", headers=await bearer(person))
        assert listed.status_code == 403
        page = await client.get("/admin/merges", headers=await bearer(person))
        assert page.status_code == 403
    listed = await client.get("/api/v1/admin/merges", headers=await bearer(t.admin))
    assert [m["id"] for m in listed.json()["merges"]] == [done.json()["id"]]
    assert listed.json()["merges"][0]["survivor_reference"] == t.survivor.reference


async def test_an_import_row_naming_a_merged_record_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    from feeds.records.importing import do_import_children

    t = await twins(make)
    lead = await make.practitioner()
    assert (await merge(client, t.admin, t.survivor, merged_id=t.duplicate.id)).status_code == 201
    data = (
        "reference,display_name,date_of_birth,lead_email\n"
        f"{t.duplicate.reference},Renamed Child,2015-01-01,{lead.email}\n"
    ).encode()
    report = await do_import_children(t.admin, data, "Caseload from the old system", SYSTEM)
    assert not report.applied
    assert "merged into another" in report.rows[0].detail
    assert (await Child.get(id=t.duplicate.id)).display_name == t.duplicate.display_name
