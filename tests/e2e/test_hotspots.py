"""Hotspots in a real browser: the manager goes from the board to the heat grid, groups by
school, reads the numbers behind a strip, and the page stays readable on a phone with no
serious accessibility problem."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e.browser import DESKTOP, PHONE, e2e_only, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations

pytestmark = e2e_only


async def test_the_manager_reads_hotspots_by_school_on_desktop_and_phone(
    site: Site, browser: Browser
) -> None:
    world = site.world
    for child, school in zip(
        [world.child, *world.others], ["Millbrook Primary"] * 2 + ["Oak"], strict=True
    ):
        child.school, child.area = school, "Northgate"
        await child.save()

    page = await new_page(browser, site.base_url, DESKTOP)
    await log_in(page, world.manager.email, "/board")
    await page.get_by_role("link", name="Hotspots").click()
    await expect(page.get_by_role("heading", name="Hotspots", level=1)).to_be_visible()
    await expect(page.locator("svg.heat")).to_have_count(1)  # one team around the children
    await page.get_by_role("link", name="School").click()
    await expect(page.locator('[aria-current="page"]')).to_have_text("School")
    strips = page.locator("li.hotspot-row")
    await expect(strips).to_have_count(2)
    first = strips.first
    await expect(first).to_contain_text("Millbrook Primary")
    await expect(first).to_contain_text("2 hunches and concerns")
    await expect(first.locator("svg.heat")).to_have_attribute(
        "aria-label",
        "Millbrook Primary: hunches and concerns per week, oldest first: "
        "0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2",
    )
    await page.get_by_text("The same numbers as a table").click()
    await expect(page.locator(".hotspot-table table")).to_contain_text("Oak")
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / "hotspots-desktop.png", full_page=True)

    phone = await new_page(browser, site.base_url, PHONE)
    await log_in(phone, world.manager.email, "/hotspots?by=school")
    await expect(phone.locator("li.hotspot-row")).to_have_count(2)
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    assert await blocking_violations(phone) == []
    await phone.screenshot(path=SCREENSHOTS / "hotspots-phone.png", full_page=True)
