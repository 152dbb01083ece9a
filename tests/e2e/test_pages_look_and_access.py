"""Accessibility (axe-core: no serious or critical violations) and screenshots of the main
pages at phone and desktop widths, written to docs/screenshots/ for reviewers."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page

from feeds.models import Notification
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, live_connected, log_in, new_page
from tests.e2e.conftest import Site

pytestmark = e2e_only
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BLOCKING = {"serious", "critical"}


def pages_of(site: Site) -> dict[str, str]:
    return {
        "home": "/",
        "child": f"/children/{site.world.child.id}",
        "notifications": "/notifications",
    }


async def blocking_violations(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_main_pages_have_no_serious_accessibility_violations(
    site: Site, browser: Browser, device: dict[str, object]
) -> None:
    page = await new_page(browser, site.base_url, device)
    await page.goto("/login")
    found = {"login": await blocking_violations(page)}
    await log_in(page, site.world.teammate.email)
    for name, path in pages_of(site).items():
        await page.goto(path)
        await live_connected(page)
        found[name] = await blocking_violations(page)
    assert found == {name: [] for name in found}


async def test_screenshots_of_the_main_pages_at_phone_and_desktop_sizes(
    site: Site, browser: Browser
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert await Notification.filter(recipient_id=site.world.teammate.id).exists()
    for label, device in (("phone", PHONE), ("desktop", DESKTOP)):
        page = await new_page(browser, site.base_url, device)
        await page.goto("/login")
        await page.screenshot(path=SCREENSHOTS / f"login-{label}.png")
        await log_in(page, site.world.teammate.email, f"/children/{site.world.child.id}")
        follow = page.get_by_role("button", name="Follow", exact=True)
        if await follow.count():  # the first round follows; the second finds it followed
            await follow.click()
            await page.get_by_role("button", name="Unfollow").wait_for()
        for name, path in pages_of(site).items():
            await page.goto(path)
            await live_connected(page)
            await page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        await page.context.close()
