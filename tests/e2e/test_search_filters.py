"""Search in a real browser at phone and desktop sizes: from a child's page within that
child, two-letter words, and the filters on the page ("all concerns since yesterday",
no words at all)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect

from feeds.clock import utcnow
from feeds.feed.posting import do_create_post
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations
from tests.e2e.world import CTX, search_index_caught_up

pytestmark = e2e_only
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


@pytest.mark.parametrize("label", DEVICES.keys())
async def test_searching_from_a_childs_page_stays_within_that_child(
    site: Site, browser: Browser, label: str
) -> None:
    world = site.world
    maya = world.others[0]
    await do_create_post(
        world.phone_user, world.child.id, "update", "GP letter: Leo's asthma plan.", CTX
    )
    await do_create_post(world.teammate, maya.id, "update", "GP letter about Maya's hearing.", CTX)
    await search_index_caught_up()
    page = await new_page(browser, site.base_url, DEVICES[label])
    await log_in(page, world.teammate.email, f"/children/{world.child.id}")
    box = page.get_by_role("searchbox", name="Search posts about Leo Turner")
    await box.fill("GP")  # two letters
    await box.press("Enter")
    await page.wait_for_url(re.compile(rf"/search\?child={world.child.id}&q=GP$"))
    await expect(page.get_by_role("heading", name="Search posts about Leo Turner")).to_be_visible()
    hits = page.locator("#main ol.feed li.post")
    await expect(hits).to_have_count(1)
    await expect(hits.first).to_contain_text("asthma plan")
    await expect(hits.first.locator("mark")).to_have_text("GP")
    assert "hearing" not in await page.content()
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / f"search-child-{label}.png", full_page=True)
    # Widen to everything the teammate may see, keeping the words.
    await page.get_by_role("link", name="Search everything you may see").click()
    await expect(hits).to_have_count(2)


@pytest.mark.parametrize("label", DEVICES.keys())
async def test_all_concerns_since_yesterday_with_no_words(
    site: Site, browser: Browser, label: str
) -> None:
    world = site.world
    await do_create_post(
        world.teammate, world.others[0].id, "concern", "Maya hungry at breakfast club again.", CTX
    )
    await search_index_caught_up()
    page = await new_page(browser, site.base_url, DEVICES[label])
    await log_in(page, world.teammate.email, "/search")
    await page.get_by_text("Filters", exact=True).click()
    await page.get_by_label("Kind").select_option("concern")
    yesterday = (utcnow().date() - timedelta(days=1)).isoformat()
    await page.get_by_label("From").fill(yesterday)
    await page.get_by_label("Written by").select_option(
        label="Sam Okoro, Northgate Children's Services"
    )
    await page.get_by_role("button", name="Search", exact=True).click()
    await page.wait_for_url(re.compile(r"/search\?q=&"))
    hits = page.locator("#main ol.feed li.post")
    await expect(hits).to_have_count(1)
    await expect(hits.first).to_contain_text("breakfast club")
    await expect(page.get_by_label("Kind")).to_have_value("concern")
    await page.get_by_label("Written by").select_option("")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(hits).to_have_count(2)  # Priya's concern about Leo too
    await expect(page.get_by_role("heading", name="2 results")).to_be_visible()
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / f"search-filters-{label}.png", full_page=True)
    # The quick link says the same in one tap.
    await page.get_by_role("link", name="concerns since yesterday").click()
    await expect(hits).to_have_count(2)
