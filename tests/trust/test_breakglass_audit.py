"""Break-glass and the readable audit log (the hash chain: tests/trust/test_audit_sealer.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from feeds.clock import utcnow
from feeds.models import AuditRecord, BreakGlass, Child, Notification, Professional, Role
from server.auth import issue_token
from tests.conftest import Factory

REASON = "Police called: child missing overnight, need the last known contacts"


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 't'))[1]}"}


async def world(make: Factory) -> tuple[Child, Professional, Professional, Professional]:
    """A child with a lead and a team whose manager is watching; and an outsider."""
    lead = await make.professional()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    manager = await make.professional(role=Role.MANAGER)
    team = await make.team(managers=[manager])
    await make.grant(child, team=team)
    outsider = await make.practitioner()
    return child, lead, manager, outsider


async def test_break_glass_needs_a_reason_opens_the_record_and_alerts_at_once(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, manager, outsider = await world(make)
    auth = await bearer(outsider)
    assert (await client.get(f"/api/v1/children/{child.id}", headers=auth)).status_code == 404
    path = f"/api/v1/children/{child.id}/break-glass"
    short = await client.post(path, json={"reason": "urgent"}, headers=auth)
    assert short.status_code == 422
    opened = await client.post(path, json={"reason": REASON}, headers=auth)
    assert opened.status_code == 201, opened.text
    access = await BreakGlass.get(id=opened.json()["id"])
    assert timedelta(hours=3, minutes=59) < access.expires_at - utcnow() <= timedelta(hours=4)
    assert (await client.get(f"/api/v1/children/{child.id}", headers=auth)).status_code == 200
    for page in ("/", f"/children/{child.id}", "/notifications"):
        shown = await client.get(page, headers=auth)
        assert "Emergency (break-glass) access" in shown.text, page
    alerted: list[Any] = await Notification.filter(
        kind="break_glass", child_id=child.id
    ).values_list("recipient_id", flat=True)
    assert sorted(alerted) == sorted([lead.id, manager.id])
    assert await AuditRecord.filter(action="breakglass.open", actor_id=outsider.id).count() == 1
    grant = await client.post(
        f"/api/v1/children/{child.id}/grants", json={"professional_id": lead.id}, headers=auth
    )
    assert grant.status_code == 403  # emergency access never manages access


async def test_expired_break_glass_hides_the_child_again(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, _, outsider = await world(make)
    auth = await bearer(outsider)
    path = f"/api/v1/children/{child.id}/break-glass"
    assert (await client.post(path, json={"reason": REASON}, headers=auth)).status_code == 201
    await BreakGlass.filter(professional_id=outsider.id).update(expires_at=utcnow())
    assert (await client.get(f"/api/v1/children/{child.id}", headers=auth)).status_code == 404


async def test_administrators_review_every_use_and_cannot_break_glass(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, _, outsider = await world(make)
    admin = await make.professional(role=Role.ADMIN)
    admin_auth, auth = await bearer(admin), await bearer(outsider)
    path = f"/api/v1/children/{child.id}/break-glass"
    assert (await client.post(path, json={"reason": REASON}, headers=admin_auth)).status_code == 403
    opened = (await client.post(path, json={"reason": REASON}, headers=auth)).json()
    assert (await client.get("/api/v1/break-glass", headers=auth)).status_code == 403
    waiting = await client.get("/api/v1/break-glass?reviewed=false", headers=admin_auth)
    assert [u["reason"] for u in waiting.json()["break_glass"]] == [REASON]
    reviewed = await client.post(
        f"/api/v1/break-glass/{opened['id']}/review", json={"note": "ok"}, headers=admin_auth
    )
    assert reviewed.status_code == 200 and reviewed.json()["reviewed_at"]
    waiting = await client.get("/api/v1/break-glass?reviewed=false", headers=admin_auth)
    assert waiting.json()["break_glass"] == []
    page = await client.get("/admin/break-glass", headers=admin_auth)
    assert page.status_code == 200 and REASON in page.text


async def test_lead_and_managers_read_who_looked_and_nobody_else(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, manager, outsider = await world(make)
    member = await make.practitioner(grants=[child])
    await client.get(f"/api/v1/children/{child.id}/posts", headers=await bearer(member))
    path = f"/api/v1/children/{child.id}/audit"
    for reader in (lead, manager):
        response = await client.get(path, headers=await bearer(reader))
        assert response.status_code == 200
        assert member.email in {r["actor_email"] for r in response.json()["records"]}
    assert (await client.get(path, headers=await bearer(member))).status_code == 403
    assert (await client.get(path, headers=await bearer(outsider))).status_code == 404
    page = await client.get(f"/children/{child.id}/audit", headers=await bearer(lead))
    assert page.status_code == 200 and member.email in page.text


async def test_administrators_filter_and_export_the_log(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, _, _ = await world(make)
    admin_auth = await bearer(await make.professional(role=Role.ADMIN))
    await client.get(f"/api/v1/children/{child.id}", headers=await bearer(lead))
    found = await client.get(f"/api/v1/audit?child={child.id}&actor={lead.id}", headers=admin_auth)
    assert found.status_code == 200
    assert "child.read" in {r["action"] for r in found.json()["records"]}
    exported = await client.get(f"/api/v1/audit.csv?child={child.id}", headers=admin_auth)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[0].startswith("id,at,actor_id")
    assert (await client.get("/api/v1/audit", headers=await bearer(lead))).status_code == 403
