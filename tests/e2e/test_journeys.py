"""Journeys in a real browser against a real server: log in, post from a phone and see it
live on a teammate's desktop, post offline and have it delivered exactly once, follow a
child and watch the home stream, get a mention, log out."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from feeds.models import Post
from tests.e2e.browser import (
    CACHED_PATHS,
    DESKTOP,
    PHONE,
    e2e_only,
    feed_item,
    live_connected,
    log_in,
    new_page,
    post_from_page,
)
from tests.e2e.conftest import Site

pytestmark = e2e_only


async def test_log_in_shows_the_home_page_and_log_out_forgets_the_device(
    site: Site, browser: Browser
) -> None:
    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, site.world.phone_user.email)
    await expect(page.get_by_role("heading", name="My children")).to_be_visible()
    await expect(page.get_by_role("link", name="Leo Turner")).to_be_visible()
    await page.get_by_role("link", name="Leo Turner").click()
    await live_connected(page)
    # The service worker keeps the app shell only: never a page or API answer.
    assert all(path.startswith("/static/") for path in await page.evaluate(CACHED_PATHS))
    await page.evaluate("localStorage.setItem('jigsaw.outbox.0', '[]')")
    await page.get_by_role("button", name="Log out").click()
    # Polls the URL: the logout script may restart the navigation after clearing storage.
    await expect(page).to_have_url(re.compile(r"/login$"), timeout=15_000)
    kept = "Object.keys(localStorage).filter(k => k.startsWith('jigsaw.'))"
    assert await page.evaluate(kept) == []
    await page.goto("/")
    await page.wait_for_url(re.compile(r"/login\?next=%2F$"))


async def test_a_post_from_a_phone_appears_live_on_a_teammates_desktop(
    site: Site, browser: Browser
) -> None:
    child = site.world.child
    phone = await new_page(browser, site.base_url, PHONE)
    desktop = await new_page(browser, site.base_url, DESKTOP)
    await log_in(phone, site.world.phone_user.email, f"/children/{child.id}")
    await log_in(desktop, site.world.teammate.email, f"/children/{child.id}")
    body = "Dad's car outside again at 4pm, curtains closed."
    await post_from_page(phone, body, "hunch")
    arrived = feed_item(desktop, body)
    await expect(arrived).to_have_count(1)
    await expect(arrived.locator(".kind-label")).to_have_text("Hunch")
    await expect(desktop.locator("#live-announcer")).to_contain_text("New hunch from Priya Shah")
    await expect(feed_item(phone, body)).to_have_count(1)
    # The teammate marks it seen; the author's page shows that live.
    await arrived.get_by_role("button", name="Seen").click()
    await expect(feed_item(phone, body).locator(".seen-count")).to_have_text("Seen by 1")


async def test_a_post_written_offline_waits_then_is_delivered_exactly_once(
    site: Site, browser: Browser
) -> None:
    child = site.world.child
    phone = await new_page(browser, site.base_url, PHONE)
    await log_in(phone, site.world.phone_user.email, f"/children/{child.id}")
    body = "No answer at the door 10:15; neighbour says they moved out on Friday."
    await phone.context.set_offline(True)
    await post_from_page(phone, body, "concern")
    waiting = phone.locator("#outbox li").filter(has_text=body)
    await expect(waiting).to_contain_text("Waiting to send")
    assert await Post.filter(body=body).count() == 0
    await phone.context.set_offline(False)
    await expect(feed_item(phone, body)).to_have_count(1)
    await expect(phone.locator("#outbox li")).to_have_count(0)
    await live_connected(phone)
    # Reloading re-sends nothing: the outbox is empty and the server holds one post.
    await phone.reload()
    await expect(feed_item(phone, body)).to_have_count(1)
    assert await Post.filter(body=body).count() == 1


async def test_following_a_child_brings_its_new_posts_to_the_home_stream_live(
    site: Site, browser: Browser
) -> None:
    other = site.world.others[0]
    desktop = await new_page(browser, site.base_url, DESKTOP)
    await log_in(desktop, site.world.teammate.email, f"/children/{other.id}")
    await desktop.get_by_role("button", name="Follow", exact=True).click()
    await expect(desktop.get_by_role("button", name="Unfollow")).to_be_visible()
    await desktop.goto("/")
    await live_connected(desktop)
    phone = await new_page(browser, site.base_url, PHONE)
    await log_in(phone, site.world.phone_user.email, f"/children/{other.id}")
    body = "Maya said she is worried about going home at the weekend."
    await post_from_page(phone, body, "concern")
    arrived = desktop.locator("#home-stream li.post").filter(has_text=body)
    await expect(arrived).to_have_count(1)
    await expect(arrived.locator(".child-link")).to_have_text("Maya Hughes")


async def test_a_mention_lights_the_notifications_badge(site: Site, browser: Browser) -> None:
    child = site.world.child
    desktop = await new_page(browser, site.base_url, DESKTOP)
    await log_in(desktop, site.world.teammate.email)
    badge = desktop.locator(".notifications-link [data-unread]")
    before = int(await badge.get_attribute("data-unread") or "0")
    phone = await new_page(browser, site.base_url, PHONE)
    await log_in(phone, site.world.phone_user.email, f"/children/{child.id}")
    await post_from_page(phone, "@sam.okoro can we talk about Leo before Friday's meeting?")
    await expect(badge).to_have_text(str(before + 1))
    await expect(desktop.locator("#live-announcer")).to_contain_text("Priya Shah mentioned you")
    await desktop.get_by_role("link", name="Notifications").click()
    await expect(desktop.locator(".notification.unread")).to_have_count(before + 1)
    await desktop.get_by_role("button", name="Mark all read").click()
    await expect(badge).to_have_text("0")
