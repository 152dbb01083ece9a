"""Older posts in a real browser: the home stream pages back (in place with JavaScript, by
a plain link without), and a search hit on a post well below the newest page opens the
page that holds it, focused."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from feeds.feed.posting import do_create_post
from feeds.models import Follow
from tests.conftest import PASSWORD
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations
from tests.e2e.world import CTX, search_index_caught_up

pytestmark = e2e_only
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


async def many_posts(site: Site, count: int) -> list[int]:
    world = site.world
    ids = []
    for n in range(count):
        body = f"Daily check-in {n:02d}: nursery drop-off on time, Leo cheerful."
        ids.append(
            (await do_create_post(world.phone_user, world.child.id, "update", body, CTX)).post.id
        )
    return ids


@pytest.mark.parametrize("label", DEVICES.keys())
async def test_older_posts_load_in_place_on_the_home_stream(
    site: Site, browser: Browser, label: str
) -> None:
    await Follow.create(child=site.world.child, professional=site.world.teammate)
    await many_posts(site, 40)  # 45 with the world's own: three pages
    page = await new_page(browser, site.base_url, DEVICES[label])
    await log_in(page, site.world.teammate.email)
    stream = page.locator("#home-stream > li.post")
    await expect(stream).to_have_count(20)
    await page.evaluate("window.stayed = 'same page'")
    older = page.get_by_role("link", name="Older posts")
    await older.click()
    await expect(stream).to_have_count(40)
    await expect(stream.nth(20)).to_be_focused()
    await expect(page.locator("#live-announcer")).to_have_text("20 older posts added.")
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / f"home-older-{label}.png")
    await older.click()
    await expect(stream).to_have_count(45)
    await expect(older).to_have_count(0)  # nothing older
    await expect(stream.last).to_contain_text("Home visit. Flat warm and tidy")
    assert await page.evaluate("window.stayed") == "same page"
    ids = [await item.get_attribute("id") for item in await stream.all()]
    assert len(set(ids)) == 45


async def test_without_javascript_older_posts_is_a_link_to_the_next_page(
    site: Site, browser: Browser
) -> None:
    await Follow.create(child=site.world.child, professional=site.world.teammate)
    await many_posts(site, 30)
    context = await browser.new_context(base_url=site.base_url, java_script_enabled=False, **PHONE)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("Email").fill(site.world.teammate.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(re.compile(r"/$"))
    await page.get_by_role("link", name="Older posts").click()
    await page.wait_for_url(re.compile(r"/\?before=\d+$"))
    await expect(page.locator("#home-stream > li.post")).to_have_count(15)
    await expect(page.get_by_role("link", name="Back to the newest")).to_be_visible()
    await context.close()


@pytest.mark.parametrize("label", DEVICES.keys())
async def test_a_search_hit_far_down_the_feed_opens_on_that_post(
    site: Site, browser: Browser, label: str
) -> None:
    world = site.world
    target = (
        await do_create_post(
            world.phone_user,
            world.child.id,
            "hunch",
            "Leo said the blue van man gave him sweets.",
            CTX,
        )
    ).post
    await many_posts(site, 45)  # the hunch is now on the third page
    await search_index_caught_up()
    page = await new_page(browser, site.base_url, DEVICES[label])
    await log_in(page, world.teammate.email, "/search?q=sweets")
    await page.locator("#main ol.feed li.post").first.get_by_role("link", name="Leo Turner").click()
    await page.wait_for_url(f"**/children/{world.child.id}?post={target.id}#post-{target.id}")
    opened = page.locator(f"#post-{target.id}")
    await expect(opened).to_be_focused()
    await expect(opened).to_be_in_viewport()
    await expect(opened).to_contain_text("blue van")
    await expect(page.get_by_role("link", name="Back to the newest")).to_be_visible()
    assert await blocking_violations(page) == []
