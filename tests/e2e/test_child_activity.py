"""The child page's activity in a real browser: the flag notice with the board's reasons,
a chart with a legend, a date axis and a table that opens with a tap, and the chart and
notice catching up live when posts land, through the tab's one websocket."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.browser import DESKTOP, PHONE, e2e_only, log_in, new_page, post_from_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations
from tests.e2e.test_search_and_board import post_burst
from tests.e2e.world import add_quiet_child

pytestmark = e2e_only
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


@pytest.mark.parametrize("label", DEVICES.keys())
async def test_the_chart_reads_on_a_touch_screen_and_updates_when_a_post_lands(
    site: Site, browser: Browser, label: str
) -> None:
    child = site.world.child
    page = await new_page(browser, site.base_url, DEVICES[label])
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    await log_in(page, site.world.teammate.email, f"/children/{child.id}")
    chart = page.locator("#activity")
    hunches = chart.locator(".legend li").filter(has_text="Hunch")
    await expect(hunches).to_have_text(re.compile(r"Hunch\s+1$"))
    await expect(chart.locator(".timeline-axis li")).to_have_count(4)
    await expect(chart.locator(".timeline-axis")).to_contain_text("today")
    # The numbers behind the bars, with a tap instead of a hover.
    await chart.get_by_text("Day by day, as a table").click()
    today_row = chart.locator("tbody tr").first
    await expect(today_row).to_be_visible()
    await expect(today_row.locator("td").last).to_have_text("5")
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / f"child-activity-{label}.png", full_page=True)

    phone = await new_page(browser, site.base_url, PHONE)
    await log_in(phone, site.world.phone_user.email, f"/children/{child.id}")
    await post_from_page(
        phone, "Leo asked to sleep at nan's again; second time this week.", "hunch"
    )
    # Without a reload: the chart is read again and swapped in, the table still open.
    await expect(hunches).to_have_text(re.compile(r"Hunch\s+2$"))
    await expect(today_row.locator("td").last).to_have_text("6")
    await expect(chart.locator("details")).to_have_attribute("open", "")
    assert len([url for url in sockets if "/ws" in url]) == 1  # the tab's one socket


async def test_a_child_flagged_while_the_page_is_open_shows_why(
    site: Site, browser: Browser
) -> None:
    quiet, teacher = await add_quiet_child(site.world)
    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, site.world.teammate.email, f"/children/{quiet.id}")
    notice = page.locator(".flag-notice")
    await expect(notice).to_have_count(0)

    await post_burst(site, quiet, teacher)

    await expect(notice).to_be_visible(timeout=30_000)
    await expect(notice.get_by_role("heading")).to_have_text("Flagged on the attention board")
    await expect(notice.locator(".reasons li").first).to_be_visible()
    await expect(notice.locator(".reasons")).to_contain_text("agencies")
    await expect(page.locator("#live-announcer")).to_contain_text("now flagged", timeout=30_000)
    await expect(page.locator("#activity .legend li").filter(has_text="Concern")).to_have_text(
        re.compile(r"Concern\s+2$")
    )
    assert await blocking_violations(page) == []
    await page.reload()
    await expect(notice).to_be_visible()  # the stored verdict, read by the page itself
    await page.screenshot(path=SCREENSHOTS / "child-flagged-phone.png")
    desktop = await new_page(browser, site.base_url, DESKTOP)
    await log_in(desktop, site.world.teammate.email, f"/children/{quiet.id}")
    await expect(desktop.locator(".flag-notice")).to_be_visible()
    await desktop.screenshot(path=SCREENSHOTS / "child-flagged-desktop.png")
