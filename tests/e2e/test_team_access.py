"""Removing someone's access on a phone: Revoke asks inline, Confirm removes it and offers
Undo, and Undo gives the same access back; axe finds nothing serious on the way."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Browser, expect

from feeds.clock import utcnow
from feeds.models import Grant, Professional
from tests.e2e.browser import PHONE, e2e_only, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations

pytestmark = e2e_only


async def test_revoke_asks_inline_and_undo_restores_access_on_a_phone(
    site: Site, browser: Browser
) -> None:
    world = site.world  # the teammate leads the child
    await world.teammate.fetch_related("agency")
    holder = await Professional.create(
        email="nia.holder@example.test",
        name="Nia Holder",
        handle="niaholder",
        job_title="School nurse",
        password_hash=world.teammate.password_hash,
        agency=world.teammate.agency,
    )
    ends = utcnow() + timedelta(days=5)
    grant = await Grant.create(child=world.child, professional=holder, expires_at=ends)
    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, world.teammate.email, f"/children/{world.child.id}")

    team = page.locator("#team")
    row = team.locator("ul.team > li", has_text="Nia Holder").first
    await expect(row).to_contain_text("ends in 5 days")
    await row.get_by_role("link", name="Revoke Nia Holder's access").click()
    confirm = row.get_by_role("button", name="Confirm")
    await expect(confirm).to_be_focused()
    await expect(row).to_contain_text("Remove Nia Holder's access to this child?")
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / "team-revoke-confirm-phone.png")
    await row.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_be_hidden()
    await row.get_by_role("link", name="Revoke Nia Holder's access").click()
    await confirm.click()

    notice = team.get_by_role("status")
    await expect(notice).to_contain_text("Access removed for Nia Holder")
    await grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / "team-undo-phone.png")
    await notice.get_by_role("button", name="Undo").click()
    await page.wait_for_url(f"**/children/{world.child.id}#team")
    await expect(team.locator("ul.team > li", has_text="Nia Holder").first).to_contain_text(
        "ends in 5 days"
    )
    back = await Grant.get(child_id=world.child.id, professional_id=holder.id, revoked_at=None)
    assert back.expires_at is not None and abs(back.expires_at - ends) < timedelta(seconds=1)


async def test_the_granting_form_suggests_a_colleague_by_name(site: Site, browser: Browser) -> None:
    world = site.world
    await world.teammate.fetch_related("agency")
    colleague = await Professional.create(
        email="oren.colleague@example.test",
        name="Oren Colleague",
        handle="orencolleague",
        job_title="Family support worker",
        password_hash=world.teammate.password_hash,
        agency=world.teammate.agency,
    )
    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, world.teammate.email, f"/children/{world.child.id}")
    field = page.get_by_label("A professional's name or email")
    await field.press_sequentially("Ore")
    option = page.locator("#grant-people option")
    await expect(option).to_have_count(1)
    label = await option.get_attribute("value")
    assert label is not None and label.startswith("Oren Colleague (Family support worker, ")
    await field.fill(label)  # as choosing the suggestion does
    await expect(page.locator("input[name=professional_id]")).to_have_value(str(colleague.id))
    await page.get_by_role("button", name="Give access").click()
    await page.wait_for_url(f"**/children/{world.child.id}#team")
    assert await Grant.filter(child_id=world.child.id, professional_id=colleague.id).exists()
