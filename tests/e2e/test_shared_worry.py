"""Shared worry in a real browser: a teacher on a phone shares a health visitor's concern,
the lead's desktop sees it live, the lead shares it too, and the third professional from a
third agency brings the prompt to the lead's page, the teacher's page and the manager's
board."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from feeds.models import Agency, Sector, TeamMember
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, feed_item, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations
from tests.e2e.world import person

pytestmark = e2e_only
CONCERN = "Bruise on left forearm"
NOTE = "Leo hungry at breakfast club again"


async def test_three_agencies_sharing_a_worry_prompt_the_lead_and_the_manager(
    site: Site, browser: Browser
) -> None:
    world, child = site.world, site.world.child
    school = await Agency.create(name="Northgate Primary School", sector=Sector.EDUCATION)
    teacher = await person(school, "Tom Reid", "tom.reid", "Class teacher")
    await TeamMember.create(team=world.team, professional=teacher)

    lead = await new_page(browser, site.base_url, DESKTOP)
    await log_in(lead, world.teammate.email, f"/children/{child.id}")
    lead_worry = feed_item(lead, CONCERN).locator(".worry")
    await expect(lead_worry.locator(".worry-count")).to_have_text(
        "Nobody else shares this worry yet."
    )
    await expect(lead.locator("#worry-prompt")).to_have_count(0)

    phone = await new_page(browser, site.base_url, PHONE)
    await log_in(phone, teacher.email, f"/children/{child.id}")
    phone_worry = feed_item(phone, CONCERN).locator(".worry")
    await phone_worry.get_by_label("A short note (optional)").fill(NOTE)
    await phone_worry.get_by_role("button", name="I share this worry").click()
    await expect(phone_worry.locator(".worry-mine")).to_have_text("You share this worry.")
    await expect(phone_worry.locator(".worry-names")).to_contain_text(NOTE)

    # The lead's page, without a reload: the count and the name arrive live.
    await expect(lead_worry.locator(".worry-count")).to_have_text("1 other shares this worry:")
    await expect(lead_worry.locator(".worry-names")).to_contain_text("Tom Reid")
    await lead_worry.get_by_role("button", name="I share this worry").click()
    prompt = lead.locator("#worry-prompt")
    await expect(prompt.get_by_role("heading")).to_contain_text(
        "3 professionals from 3 agencies are worried about Leo Turner"
    )
    await expect(prompt).to_contain_text("Consider a strategy discussion.")
    for name in ("Priya Shah", "Tom Reid", "Sam Okoro"):
        await expect(prompt.locator(".worriers")).to_contain_text(name)
    assert await blocking_violations(lead) == []
    await prompt.screenshot(path=SCREENSHOTS / "shared-worry-desktop.png")

    await phone.reload()
    await expect(phone.locator("#worry-prompt")).to_contain_text(
        "have been asked to consider a strategy discussion"
    )
    await expect(feed_item(phone, CONCERN).locator(".worry-count")).to_have_text(
        "2 others share this worry:"
    )
    assert await blocking_violations(phone) == []
    await phone.screenshot(path=SCREENSHOTS / "shared-worry-phone.png", full_page=True)

    manager = await new_page(browser, site.base_url, DESKTOP)
    await log_in(manager, world.manager.email, "/board")
    row = manager.locator(".board-row").filter(has_text="Leo Turner")
    await expect(row.locator(".worry-reasons")).to_have_text(
        "Shared worry: 3 professionals from 3 agencies"
    )
    await row.screenshot(path=SCREENSHOTS / "shared-worry-board.png")
    await manager.goto("/notifications")
    await expect(manager.locator(".notification").filter(has_text="Shared worry")).to_have_count(1)
