"""Break-glass from the child page, and its duration as a setting.

A professional without access who opens /children/{id} gets the same 404 as for a child
that does not exist; practitioners and managers also get a form to open the record in an
emergency. This module runs with JIGSAW_BREAK_GLASS_HOURS=9 so the duration is visibly
the setting's, not the 4-hour default.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from feeds.clock import utcnow
from feeds.models import AuditRecord, BreakGlass, Child, Notification, Professional, Role
from server.auth import issue_token
from server.settings import Settings, SettingsError, load_settings
from tests.conftest import MFA_KEY, Factory
from tests.server.test_pages import ORIGIN, hidden, logged_in

HOURS = 9
REASON = "Police called: child missing overnight, need the last known contacts"
SECRET = {"JIGSAW_SECRET_KEY": "s" * 40, "JIGSAW_MFA_KEYS": MFA_KEY}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, break_glass=timedelta(hours=HOURS))


async def world(make: Factory) -> tuple[Child, Professional, Professional]:
    """A child with a lead and a managed team around it; and an outsider."""
    lead = await make.professional()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    manager = await make.professional(role=Role.MANAGER)
    await make.grant(child, team=await make.team(managers=[manager]))
    return child, lead, manager


def normalised(page: str) -> str:
    """The page without what differs per request: CSRF tokens and the child id in the form."""
    page = re.sub(r'(name="csrftoken" value=|name="csrf-token" content=)"[^"]*"', r"\1", page)
    return re.sub(r"/children/\d+/break-glass", "/children/ID/break-glass", page)


def expires_in(access: BreakGlass) -> timedelta:
    return access.expires_at - utcnow()


# --- the setting ------------------------------------------------------------------------


def test_break_glass_lasts_four_hours_unless_configured() -> None:
    assert load_settings(SECRET).break_glass == timedelta(hours=4)
    assert load_settings({**SECRET, "JIGSAW_BREAK_GLASS_HOURS": "72"}).break_glass == timedelta(
        hours=72
    )
    assert load_settings({**SECRET, "JIGSAW_BREAK_GLASS_HOURS": " 1 "}).break_glass == timedelta(
        hours=1
    )


@pytest.mark.parametrize("raw", ["0", "73", "-1", "2.5", "four", "", "²"])
def test_an_out_of_range_duration_is_refused_at_startup(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"JIGSAW_BREAK_GLASS_HOURS must be .* from 1 to 72"):
        load_settings({**SECRET, "JIGSAW_BREAK_GLASS_HOURS": raw})


def test_the_cli_reports_a_bad_duration_clearly(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from server.cli import main; main()", "migrate"],
        env={**SECRET, "JIGSAW_BREAK_GLASS_HOURS": "100", "JIGSAW_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "JIGSAW_BREAK_GLASS_HOURS must be a whole number of hours from 1 to 72" in done.stderr
    assert "Traceback" not in done.stderr


async def test_api_break_glass_expires_after_the_configured_hours(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, _ = await world(make)
    outsider = await make.practitioner()
    auth = {"authorization": f"Bearer {(await issue_token(outsider, 't'))[1]}"}
    opened = await client.post(
        f"/api/v1/children/{child.id}/break-glass", json={"reason": REASON}, headers=auth
    )
    assert opened.status_code == 201, opened.text
    access = await BreakGlass.get(id=opened.json()["id"])
    assert timedelta(hours=HOURS) - timedelta(minutes=1) < expires_in(access)
    assert expires_in(access) <= timedelta(hours=HOURS)


# --- the refusal page and its form ------------------------------------------------------


async def test_a_refused_practitioner_is_offered_an_accessible_break_glass_form(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, _ = await world(make)
    await logged_in(client, await make.practitioner())
    page = await client.get(f"/children/{child.id}")
    assert page.status_code == 404
    assert child.display_name not in page.text and child.reference not in page.text
    text = page.text
    assert f'action="/children/{child.id}/break-glass"' in text
    assert '<label for="reason">' in text
    textarea = re.search(r"<textarea id=\"reason\"[^>]*>", text)
    assert textarea, text
    for attribute in ('name="reason"', 'minlength="10"', 'maxlength="500"', "required"):
        assert attribute in textarea.group(0)
    assert "reason-hint" in textarea.group(0) and "break-glass-warning" in textarea.group(0)
    warning = re.search(r'<p id="break-glass-warning">(.*?)</p>', text, re.S)
    assert warning, text
    for words in ("audited", "lead professional", "managers", f"{HOURS} hours"):
        assert words in " ".join(warning.group(1).split())
    assert re.search(r"<button type=\"submit\">[^<]*emergency[^<]*</button>", text)
    assert hidden(text, "csrftoken")


async def test_the_refusal_for_a_hidden_child_is_the_refusal_for_a_missing_one(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, _ = await world(make)
    missing = child.id + 1000
    for person in (await make.practitioner(), await make.professional(role=Role.ADMIN)):
        await logged_in(client, person)
        shown = await client.get(f"/children/{child.id}")
        absent = await client.get(f"/children/{missing}")
        assert shown.status_code == absent.status_code == 404
        assert normalised(shown.text) == normalised(absent.text)
        assert dict(shown.headers).keys() == dict(absent.headers).keys()


async def test_administrators_get_the_refusal_without_a_form(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, _ = await world(make)
    await logged_in(client, await make.professional(role=Role.ADMIN))
    page = await client.get(f"/children/{child.id}")
    assert page.status_code == 404
    assert "No such child, or you do not have access to this child." in page.text
    assert "break-glass" not in page.text and "<textarea" not in page.text


async def test_the_form_opens_the_record_marked_as_emergency_access(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, lead, manager = await world(make)
    outsider = await make.practitioner()
    await logged_in(client, outsider)
    refusal = await client.get(f"/children/{child.id}")
    opened = await client.post(
        f"/children/{child.id}/break-glass",
        data={"csrftoken": hidden(refusal.text, "csrftoken"), "reason": REASON},
        headers=ORIGIN,
    )
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/children/{child.id}"
    page = await client.get(opened.headers["location"])
    assert page.status_code == 200
    assert child.display_name in page.text
    assert "Emergency (break-glass) access" in page.text
    access = await BreakGlass.get(professional_id=outsider.id, child_id=child.id)
    assert access.reason == REASON
    assert timedelta(hours=HOURS) - timedelta(minutes=1) < expires_in(access)
    assert access.expires_at.isoformat()[11:16] in page.text  # the banner's end time
    alerted: list[Any] = await Notification.filter(
        kind="break_glass", child_id=child.id
    ).values_list("recipient_id", flat=True)
    assert sorted(alerted) == sorted([lead.id, manager.id])
    assert await AuditRecord.filter(action="breakglass.open", actor_id=outsider.id).count() == 1


async def test_a_short_reason_keeps_the_draft_and_says_why(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, _, _ = await world(make)
    outsider = await make.practitioner()
    await logged_in(client, outsider)
    refusal = await client.get(f"/children/{child.id}")
    answer = await client.post(
        f"/children/{child.id}/break-glass",
        data={"csrftoken": hidden(refusal.text, "csrftoken"), "reason": "  urgent  "},
        headers=ORIGIN,
    )
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text and "10 to 500 characters" in answer.text
    assert 'aria-invalid="true"' in answer.text and "urgent" in answer.text
    assert child.display_name not in answer.text
    assert not await BreakGlass.filter(professional_id=outsider.id).exists()


async def test_the_form_needs_a_csrf_token(client: httpx.AsyncClient, make: Factory) -> None:
    child, _, _ = await world(make)
    outsider = await make.practitioner()
    await logged_in(client, outsider)
    answer = await client.post(
        f"/children/{child.id}/break-glass", data={"reason": REASON}, headers=ORIGIN
    )
    assert answer.status_code == 403
    assert not await BreakGlass.filter(professional_id=outsider.id).exists()
