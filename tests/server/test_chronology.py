"""A child's chronology (issue 17, part 1): significant posts with action taken and outcome,
system events joining by themselves, filters, and the audited CSV and PDF exports."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from datetime import timedelta

import httpx
from pypdf import PdfReader

from feeds.audit import records as audit
from feeds.audit.actions import AuditAction
from feeds.audit.records import SYSTEM
from feeds.chronology.models import SignificanceRevision
from feeds.clock import utcnow
from feeds.feed.posting import do_create_post
from feeds.models import AuditRecord, BreakGlass, Child, Post, Professional, Role
from feeds.network.models import AccessRequest, Household, HouseholdMember, WorryEpisode
from server.auth import issue_token
from tests.conftest import Factory


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


async def led_child(make: Factory) -> tuple[Child, Professional, Professional]:
    """A child, its lead (with a grant) and a practitioner with a grant."""
    lead = await make.professional()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    worker = await make.practitioner(grants=[child])
    return child, lead, worker


async def post(person: Professional, child: Child, body: str, kind: str = "concern") -> Post:
    return (await do_create_post(person, child.id, kind, body, SYSTEM)).post


async def mark(
    client: httpx.AsyncClient, person: Professional, target: Post, **fields: object
) -> httpx.Response:
    body = {"significant": True, **fields}
    return await client.put(
        f"/api/v1/posts/{target.id}/significance", json=body, headers=await bearer(person)
    )


async def chronology(
    client: httpx.AsyncClient, person: Professional, child: Child, query: str = ""
) -> httpx.Response:
    path = f"/api/v1/children/{child.id}/chronology{query}"
    return await client.get(path, headers=await bearer(person))


async def test_the_lead_marks_a_post_significant_and_edits_keep_revisions(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, worker = await led_child(make)
    seen = await post(worker, child, "Bruise on left arm, says he fell off his bike")
    first = await mark(client, lead, seen, action_taken="Strategy discussion held")
    assert first.status_code == 200, first.text
    second = await mark(
        client, lead, seen, action_taken="Strategy discussion held", outcome="Child protection plan"
    )
    assert second.json()["outcome"] == "Child protection plan"
    assert [r["outcome"] for r in second.json()["revisions"]] == [""]
    assert await SignificanceRevision.all().count() == 1
    entries = (await chronology(client, worker, child)).json()["entries"]
    marked = [e for e in entries if e["post_id"] == seen.id]
    assert marked[0]["significant"] is True
    assert marked[0]["action_taken"] == "Strategy discussion held"
    assert marked[0]["outcome"] == "Child protection plan"
    assert marked[0]["event"] == "Concern: Bruise on left arm, says he fell off his bike"
    actions = await AuditRecord.filter(actor_id=lead.id, action="post.significance").values(
        "child_id", "detail"
    )
    assert (
        actions == [{"child_id": child.id, "detail": {"post_id": seen.id, "significant": True}}] * 2
    )


async def test_only_the_author_and_the_lead_may_mark_a_post(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, worker = await led_child(make)
    colleague = await make.practitioner(grants=[child])
    manager = await make.manager_of(child)
    stranger = await make.professional()
    written = await post(worker, child, "Missed school three days running")
    assert (await mark(client, worker, written)).status_code == 200  # the author
    assert (await mark(client, lead, written, outcome="Attendance plan")).status_code == 200
    assert (await mark(client, colleague, written)).status_code == 403
    assert (await mark(client, manager, written)).status_code == 403
    hidden = await mark(client, stranger, written)
    assert hidden.status_code == 404
    assert "Missed school" not in hidden.text


async def test_removed_posts_cannot_be_marked_and_bad_notes_are_a_422(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, worker = await led_child(make)
    written = await post(worker, child, "Dad's car outside again")
    too_long = await mark(client, lead, written, outcome="x" * 1001)
    assert too_long.status_code == 422
    assert too_long.json()["error"]["field"] == "outcome"
    not_bool = await client.put(
        f"/api/v1/posts/{written.id}/significance",
        json={"significant": "yes"},
        headers=await bearer(lead),
    )
    assert not_bool.status_code == 422
    written.removed_at = utcnow()
    await written.save(update_fields=["removed_at"])
    assert (await mark(client, lead, written)).status_code == 409


async def test_system_events_join_the_chronology_by_themselves(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, worker = await led_child(make)
    nurse = await make.professional()
    await AccessRequest.create(
        requester=nurse,
        child=child,
        reference=child.reference,
        role="school nurse",
        reason="weekly health checks",
        created_at=utcnow(),
    )
    ended = await make.grant(child, professional=nurse, expired=True)
    revoked = await make.grant(child, professional=await make.professional(), revoked=True)
    glass = await make.professional()
    now = utcnow()
    await BreakGlass.create(
        child=child,
        professional=glass,
        reason="missing overnight",
        started_at=now,
        expires_at=now + timedelta(hours=4),
    )
    flag = {"flagged": True, "score": 3.2}
    await audit.record(AuditAction.VELOCITY_CHANGED, SYSTEM, child_id=child.id, detail=flag)
    silent = {"flagged": True, "score": 2.0, "agencies": ["Northgate Primary School"]}
    await audit.record(AuditAction.SILENCE_CHANGED, SYSTEM, child_id=child.id, detail=silent)
    await post(worker, child, "Home visit, no answer")  # the worker's agency is new here
    entries = (await chronology(client, lead, child)).json()["entries"]
    events = [e["event"] for e in entries]
    assert "Asked to join the child's network as school nurse" in events
    assert any(e.startswith("Access granted to ") for e in events)
    assert any(e.endswith(" expired") and nurse.name in e for e in events)
    assert any(e.endswith(" revoked") for e in events)
    assert "Emergency access opened: missing overnight" in events
    assert "Flagged: unusual attention" in events
    assert "Flagged: gone quiet (Northgate Primary School)" in events
    assert any(e.endswith("is now involved") for e in events)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    kinds = {e["kind"] for e in entries}
    assert {"access", "break_glass", "flag", "agency", "update"} - kinds == {"update"}
    assert ended.id and revoked.id


async def test_household_links_and_shared_worry_prompts_join_the_chronology(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, _worker = await led_child(make)
    sibling = await make.child(lead=lead)
    await make.grant(sibling, professional=lead)
    linked = await client.post(
        f"/api/v1/children/{child.id}/household",
        json={"with_child_id": sibling.id, "relationship": "sibling"},
        headers=await bearer(lead),
    )
    await WorryEpisode.create(
        child=child, opened_at=utcnow(), holds_until=utcnow(), professionals=4, agencies=3
    )

    entries = (await chronology(client, lead, child, "?significant_only=true")).json()["entries"]

    assert linked.status_code == 201
    kinds = {e["kind"]: e["event"] for e in entries}
    assert "household" in kinds and sibling.display_name not in kinds["household"]
    assert kinds["worry"].startswith("Shared worry: 4 professionals from 3 agencies")


async def test_filters_by_period_kind_agency_and_significance(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, worker = await led_child(make)
    other_agency = await make.practitioner(grants=[child])
    old = await post(worker, child, "Old concern")
    old.created_at = utcnow() - timedelta(days=40)
    await old.save(update_fields=["created_at"])
    recent = await post(worker, child, "Recent hunch", kind="hunch")
    theirs = await post(other_agency, child, "Their update", kind="update")
    await mark(client, lead, recent)
    since = (utcnow() - timedelta(days=7)).date().isoformat()

    async def posts_for(query: str) -> set[int]:
        response = await chronology(client, lead, child, query)
        assert response.status_code == 200, response.text
        return {e["post_id"] for e in response.json()["entries"] if e["post_id"]}

    assert await posts_for("") == {old.id, recent.id, theirs.id}
    assert await posts_for(f"?from={since}") == {recent.id, theirs.id}
    assert await posts_for("?kinds=hunch,update") == {recent.id, theirs.id}
    assert await posts_for(f"?agencies={other_agency.agency_id}") == {theirs.id}
    assert await posts_for("?significant=true") == {recent.id}
    # Significant only keeps marked posts and the system events that always count (a new
    # agency), not access changes.
    significant = await chronology(client, lead, child, "?significant=true")
    assert {e["kind"] for e in significant.json()["entries"]} == {"hunch", "agency"}
    everything = await chronology(client, lead, child, "?kinds=access")
    assert everything.json()["entries"], "the lead's access is in the unfiltered chronology"
    only_posts = await chronology(client, lead, child, "?kinds=concern&kinds=hunch")
    assert {e["kind"] for e in only_posts.json()["entries"]} == {"concern", "hunch"}
    for query, field in (
        ("?kinds=gossip", "kinds"),
        ("?from=2024-13-01", "from"),
        ("?from=2024-05-02&to=2024-05-01", "to"),
        ("?agencies=one", "agencies"),
        ("?significant=maybe", "significant"),
    ):
        refused = await chronology(client, lead, child, query)
        assert refused.status_code == 422, query
        assert refused.json()["error"]["field"] == field, query


async def test_hidden_children_get_404_and_emergency_access_reads_but_never_exports(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, worker = await led_child(make)
    await post(worker, child, "Secret marker zq81")
    stranger = await make.professional(role=Role.ADMIN)
    glass = await make.professional()
    now = utcnow()
    await BreakGlass.create(
        child=child,
        professional=glass,
        reason="r",
        started_at=now,
        expires_at=now + timedelta(hours=1),
    )
    for suffix in ("", ".csv", ".pdf"):
        path = f"/api/v1/children/{child.id}/chronology{suffix}"
        hidden = await client.get(path, headers=await bearer(stranger))
        assert hidden.status_code == 404
        assert "zq81" not in hidden.text and child.display_name not in hidden.text
        answer = await client.get(path, headers=await bearer(glass))
        assert answer.status_code == (200 if suffix == "" else 403), suffix


async def test_csv_export_is_audited_with_its_filters_and_hash(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, worker = await led_child(make)
    written = await post(worker, child, "=HYPERLINK(evil) said at school")
    await mark(client, lead, written, action_taken="Referral to early help")
    response = await client.get(
        f"/api/v1/children/{child.id}/chronology.csv?kinds=concern&significant=true",
        headers=await bearer(lead),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:3] == ["date", "child_reference", "kind"]
    assert len(lines) == 2 and "Referral to early help" in lines[1]
    assert child.reference in lines[1]
    record = await AuditRecord.filter(action="chronology.export").order_by("-id").first()
    assert record is not None and record.child_id == child.id and record.actor_id == lead.id
    assert record.detail["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert record.detail["format"] == "csv"
    assert record.detail["filters"]["kinds"] == ["concern"]
    assert record.detail["filters"]["significant_only"] is True
    assert record.detail["entries"] == 1


async def test_pdf_export_is_paginated_and_marked_on_every_page(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, worker = await led_child(make)
    for n in range(90):
        await post(worker, child, f"Visit {n}: " + "school reports him hungry and tired. " * 4)
    first = await Post.filter(child_id=child.id).order_by("id").first()
    assert first is not None
    await mark(client, lead, first, action_taken="Food bank referral", outcome="Eating at school")
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    response = await client.get(
        f"/api/v1/children/{child.id}/chronology.pdf?from={since}&kinds=concern",
        headers=await bearer(lead),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert text.count("OFFICIAL-SENSITIVE") == 2, number  # top and foot
        assert f"Page {number} of {len(pages)}" in text
        assert child.reference in text
        for heading in ("Date", "Source (person, agency)", "Event", "Action taken", "Outcome"):
            assert heading in text
    assert child.display_name in pages[0]
    assert (
        f"Period: {since} to now; kinds: Concern; agencies: all; significant only: no" in pages[0]
    )
    assert f"Generated by {lead.name}" in pages[0]
    assert "Food bank referral" in pages[0] and "SIGNIFICANT" in pages[0]
    text = "\n".join(pages)
    assert all(f"Visit {n}:" in text for n in range(90))
    record = await AuditRecord.filter(action="chronology.export").order_by("-id").first()
    assert record is not None
    assert record.detail["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert record.detail["format"] == "pdf"


async def test_the_page_shows_filters_downloads_and_the_marking_form_works(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, worker = await led_child(make)
    written = await post(worker, child, "Told teacher about shouting at home")
    headers = await bearer(lead)
    page = await client.get(f"/children/{child.id}/chronology?kinds=concern", headers=headers)
    assert page.status_code == 200
    assert "Told teacher about shouting at home" in page.text
    assert f"/api/v1/children/{child.id}/chronology.pdf?kinds=concern" in page.text
    form_page = await client.get(f"/posts/{written.id}/significance", headers=headers)
    assert form_page.status_code == 200 and "Action taken" in form_page.text
    saved = await client.post(
        f"/posts/{written.id}/significance",
        data={"significant": "true", "action_taken": "Early help assessment", "outcome": ""},
        headers=headers,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/children/{child.id}/chronology"
    after = await client.get(f"/children/{child.id}/chronology?significant=true", headers=headers)
    assert "Early help assessment" in after.text and "Significant" in after.text
    colleague = await make.practitioner(grants=[child])
    theirs = await client.get(f"/children/{child.id}/chronology", headers=await bearer(colleague))
    assert "Told teacher" in theirs.text and "Mark significant" not in theirs.text
    assert f"/posts/{written.id}/significance" not in theirs.text
    bad = await client.get(f"/children/{child.id}/chronology?from=tomorrow", headers=headers)
    assert bad.status_code == 422 and "from must be" in bad.text


async def test_a_households_chronology_joins_the_siblings_the_viewer_may_see_only(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, worker = await led_child(make)
    seen = await make.child(lead=lead)
    await make.grant(seen, professional=lead)
    hidden = await make.child()  # a sibling the lead may not see
    household = await Household.create(created_at=utcnow())
    for each in (child, seen, hidden):
        await HouseholdMember.create(
            household=household, child=each, relationship="sibling", linked_at=utcnow()
        )
    await post(worker, child, "Worried about bedtimes")
    await post(lead, seen, "Sibling seen at clinic, well")
    await post(await make.practitioner(grants=[hidden]), hidden, "CANARY-HIDDEN-SIBLING")

    one = (await chronology(client, lead, child)).json()
    family = (await chronology(client, lead, child, "?household=true")).json()
    pdf = await client.get(
        f"/api/v1/children/{child.id}/chronology.pdf?household=true", headers=await bearer(lead)
    )

    events = " | ".join(e["event"] for e in family["entries"])
    assert "Sibling seen at clinic, well" in events and "Worried about bedtimes" in events
    assert "Sibling seen at clinic, well" not in str(one["entries"])
    for answer in (family, one):
        assert "CANARY-HIDDEN-SIBLING" not in str(answer) and hidden.reference not in str(answer)
    assert {e["child_reference"] for e in family["entries"]} == {child.reference, seen.reference}
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert seen.reference in text and hidden.reference not in text
    assert "CANARY-HIDDEN-SIBLING" not in text
    assert "chronology-household-" in pdf.headers["content-disposition"]
    reads = await AuditRecord.filter(action="chronology.read", actor_id=lead.id, outcome="ok")
    assert Counter(r.child_id for r in reads) == Counter([child.id, child.id, seen.id])
