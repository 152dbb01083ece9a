"""The page header in a real browser: one row on a desktop at 1280 px, a compact header on
a phone with the search box and every link still reachable, and logging out leaves nothing
behind for the next person (their sign-in goes home, not to the last person's page)."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Route, expect

from tests.conftest import PASSWORD
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, live_connected, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import blocking_violations

pytestmark = e2e_only
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


async def test_the_desktop_header_is_one_row_at_1280_px(site: Site, browser: Browser) -> None:
    page = await new_page(browser, site.base_url, DESKTOP)
    await log_in(page, site.world.manager.email, "/board")  # a manager: one more link
    header = await page.locator("header.topbar").bounding_box()
    assert header is not None and header["height"] <= 64, header
    tops = set()
    for name in ("Home", "Search", "Board", "Notifications", "Sign-in security"):
        box = await page.locator("header").get_by_role("link", name=name).bounding_box()
        assert box is not None
        tops.add(round(box["y"] + box["height"] / 2))
    search = await page.get_by_label("Search posts you may see").bounding_box()
    log_out = await page.get_by_role("button", name="Log out").bounding_box()
    assert search and log_out
    tops |= {round(search["y"] + search["height"] / 2), round(log_out["y"] + log_out["height"] / 2)}
    assert max(tops) - min(tops) <= 4, tops  # every part of the header on one line


async def test_the_phone_header_is_compact_and_every_link_is_reachable(
    site: Site, browser: Browser
) -> None:
    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, site.world.teammate.email)
    header = await page.locator("header.topbar").bounding_box()
    assert header is not None and header["height"] <= 110, header
    search = page.get_by_label("Search posts you may see")
    await expect(search).to_be_in_viewport()
    # The links scroll sideways; each can be reached and used.
    await (
        page.locator("header")
        .get_by_role("link", name="Sign-in security")
        .scroll_into_view_if_needed()
    )
    await expect(
        page.locator("header").get_by_role("link", name="Sign-in security")
    ).to_be_in_viewport()
    await search.fill("mum")
    await search.press("Enter")
    await page.wait_for_url(re.compile(r"/search\?q=mum$"))
    assert await blocking_violations(page) == []


@pytest.mark.parametrize("label", DEVICES.keys())
async def test_after_logging_out_from_search_the_next_person_signs_in_to_home(
    site: Site, browser: Browser, label: str
) -> None:
    page = await new_page(browser, site.base_url, DEVICES[label])
    closed = asyncio.Event()
    page.on("websocket", lambda socket: socket.on("close", lambda _: closed.set()))
    await log_in(page, site.world.teammate.email, "/search?q=mum")

    async def slow_answer(route: Route) -> None:
        # The server ends the session, and so closes the tab's socket, before the browser
        # has the logout's answer: the socket's close must not win the race to navigate.
        answer = await route.fetch(max_redirects=0)
        await asyncio.wait_for(closed.wait(), 15)
        await asyncio.sleep(0.5)  # time for the page's close handler to act (not asserted)
        await route.fulfill(response=answer)

    await page.route("**/logout", slow_answer)
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    assert await page.locator("input[name=next]").input_value() == "/"
    await page.get_by_label("Email").fill(site.world.phone_user.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(r"/$"))
    await live_connected(page)
    await expect(page.get_by_role("heading", name="Following")).to_be_visible()
