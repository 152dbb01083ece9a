"""Accessibility (axe-core: no serious or critical violations) on every page, and
screenshots of the main pages at phone and desktop widths, written to docs/screenshots/
for reviewers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page

from feeds.models import Agency, Notification, Role, Sector
from tests.conftest import Factory
from tests.e2e.browser import DESKTOP, PHONE, Device, e2e_only, live_connected, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.world import add_quiet_child, post_burst_directly, search_index_caught_up

pytestmark = e2e_only
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BLOCKING = {"serious", "critical"}
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


@dataclass(frozen=True)
class Shown:
    """A page as one person sees it; `part` pictures one section instead of the page."""

    name: str
    path: str
    part: str | None = None
    screenshot: bool = True


async def an_admin() -> str:
    office = await Agency.create(name="Northgate Council IT", sector=Sector.SOCIAL_CARE)
    admin = await Factory().professional(
        role=Role.ADMIN, agency=office, email="ada@northgate.test", handle="ada.admin"
    )
    return admin.email


async def pages_by_viewer(site: Site) -> dict[str, list[Shown]]:
    """Every page, by the email of who sees it. The teammate is Leo's lead professional."""
    await search_index_caught_up()
    leo = site.world.child.id
    return {
        site.world.teammate.email: [
            Shown("home", "/"),
            Shown("child", f"/children/{leo}"),
            Shown("team", f"/children/{leo}", part="#team"),
            Shown("notifications", "/notifications"),
            Shown("search", "/search?q=mum"),
            Shown("audit", f"/children/{leo}/audit"),
            Shown("not-found", "/children/999999", screenshot=False),
            Shown("ask-to-join", "/access-requests", screenshot=False),
        ],
        site.world.manager.email: [Shown("board", "/board")],
        await an_admin(): [
            Shown("admin-audit", "/admin/audit", screenshot=False),
            Shown("admin-break-glass", "/admin/break-glass", screenshot=False),
        ],
    }


async def blocking_violations(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


async def visit(page: Page, shown: Shown) -> None:
    await page.goto(shown.path)
    await live_connected(page)


@pytest.mark.parametrize("device", DEVICES.values(), ids=DEVICES.keys())
async def test_every_page_has_no_serious_accessibility_violations(
    site: Site, browser: Browser, device: Device
) -> None:
    page = await new_page(browser, site.base_url, device)
    await page.goto("/login")
    found = {"login": await blocking_violations(page)}
    for email, pages in (await pages_by_viewer(site)).items():
        page = await new_page(browser, site.base_url, device)
        await log_in(page, email)
        for shown in pages:
            if shown.part is None:
                await visit(page, shown)
                found[shown.name] = await blocking_violations(page)
        await page.context.close()
    assert found == {name: [] for name in found}
    assert len(found) == 11


async def test_screenshots_of_the_main_pages_at_phone_and_desktop_sizes(
    site: Site, browser: Browser
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert await Notification.filter(recipient_id=site.world.teammate.id).exists()
    # A child with three months of quiet history and this week's burst: the board has a flag.
    await post_burst_directly(site.world, *await add_quiet_child(site.world))
    viewers = await pages_by_viewer(site)
    written = []
    for label, device in DEVICES.items():
        page = await new_page(browser, site.base_url, device)
        await page.goto("/login")
        await page.screenshot(path=SCREENSHOTS / f"login-{label}.png")
        written.append(f"login-{label}.png")
        await page.context.close()
        for email, pages in viewers.items():
            pictured = [shown for shown in pages if shown.screenshot]
            if not pictured:
                continue
            page = await new_page(browser, site.base_url, device)
            await log_in(page, email, f"/children/{site.world.child.id}")
            follow = page.get_by_role("button", name="Follow", exact=True)
            if email == site.world.teammate.email and await follow.count():
                await follow.click()  # so the home page shows a stream; the desktop round finds it
                await page.get_by_role("button", name="Unfollow").wait_for()
            for shown in pictured:
                await visit(page, shown)
                path = SCREENSHOTS / f"{shown.name}-{label}.png"
                if shown.part:
                    await page.locator(shown.part).screenshot(path=path)
                else:
                    await page.screenshot(path=path, full_page=True)
                written.append(path.name)
            await page.context.close()
    main = ["login", "home", "child", "team", "notifications", "search", "audit", "board"]
    assert sorted(written) == sorted(f"{name}-{label}.png" for name in main for label in DEVICES)
