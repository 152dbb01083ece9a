"""The compose box in a real browser, at phone and desktop sizes: a live character count
that says what is over and by how much, and posts that cannot be sent (over the limit,
nothing but spaces) refused with the reason, with JavaScript and without."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from feeds.models import Post
from tests.conftest import PASSWORD
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, feed_item, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations

pytestmark = e2e_only
DEVICES = {"phone": PHONE, "desktop": DESKTOP}
PASTED = "Long handover note from the strategy meeting. " * 13  # 598 characters


@pytest.mark.parametrize("label", DEVICES.keys())
async def test_the_count_says_what_is_over_and_an_overlong_post_is_refused(
    site: Site, browser: Browser, label: str
) -> None:
    child = site.world.child
    page = await new_page(browser, site.base_url, DEVICES[label])
    await log_in(page, site.world.phone_user.email, f"/children/{child.id}")
    before = await Post.filter(child_id=child.id).count()
    box = page.get_by_label("What did you see or hear?")
    count = page.locator("#body-count")
    await expect(count).to_have_text("0 of 500 characters")
    await box.fill(PASTED)  # a paste: nothing is cut off
    assert len(await box.input_value()) == len(PASTED)
    over = len(PASTED.strip()) - 500
    await expect(count).to_have_text(f"{len(PASTED.strip())} of 500 characters: {over} over")
    await expect(count).to_have_class(re.compile(r"\bover\b"))
    await expect(box).to_have_attribute("aria-invalid", "true")
    # Screen readers hear it once the typing pauses, not on every keystroke.
    await expect(page.locator("#body-count-live")).to_have_text(
        f"{over} characters over the limit of 500."
    )
    assert await page.locator("#body-count").get_attribute("aria-live") is None
    await page.get_by_role("button", name="Post", exact=True).click()
    error = page.locator("#post-error")
    await expect(error).to_have_text(
        f"This post is {over} characters over the 500-character limit "
        f"({len(PASTED.strip())} written): shorten it before posting."
    )
    await expect(box).to_be_focused()
    await expect(box).to_have_value(PASTED)  # the text stays, to be shortened
    await expect(page.locator("#outbox li")).to_have_count(0)
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / f"compose-over-{label}.png")

    shorter = PASTED[:480]
    await box.fill(shorter)
    await expect(count).to_have_text(f"{len(shorter.strip())} of 500 characters")
    await expect(page.locator("#body-count-live")).to_have_text(
        f"{500 - len(shorter.strip())} characters left."
    )
    await page.get_by_role("button", name="Post", exact=True).click()
    await expect(feed_item(page, shorter.strip()[:60])).to_have_count(1)
    await expect(error).to_have_count(0)
    await expect(count).to_have_text("0 of 500 characters")
    assert await Post.filter(child_id=child.id).count() == before + 1  # only the shorter one


@pytest.mark.parametrize("label", DEVICES.keys())
async def test_a_post_of_only_spaces_says_to_write_something(
    site: Site, browser: Browser, label: str
) -> None:
    child = site.world.child
    page = await new_page(browser, site.base_url, DEVICES[label])
    await log_in(page, site.world.phone_user.email, f"/children/{child.id}")
    before = await Post.filter(child_id=child.id).count()
    for blank in ("", "   \n  "):
        await page.get_by_label("What did you see or hear?").fill(blank)
        await page.get_by_role("button", name="Post", exact=True).click()
        await expect(page.locator("#post-error")).to_have_text(
            "Write something before posting: the post is empty."
        )
        await expect(page.get_by_label("What did you see or hear?")).to_be_focused()
    assert await Post.filter(child_id=child.id).count() == before


async def test_without_javascript_the_server_refuses_and_keeps_the_draft(
    site: Site, browser: Browser
) -> None:
    child = site.world.child
    context = await browser.new_context(base_url=site.base_url, java_script_enabled=False, **PHONE)
    page = await context.new_page()
    await page.goto(f"/login?next=/children/{child.id}")
    await page.get_by_label("Email").fill(site.world.phone_user.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**/children/{child.id}")
    await page.get_by_label("What did you see or hear?").fill(PASTED)
    await page.get_by_role("button", name="Post", exact=True).click()
    over = len(PASTED.strip()) - 500
    await expect(page.locator("#post-error")).to_contain_text(
        f"This post is {over} characters over the 500-character limit"
    )
    await expect(page.get_by_label("What did you see or hear?")).to_have_value(PASTED)
    await expect(page.locator("#body-count")).to_have_text(
        f"{len(PASTED.strip())} of 500 characters: {over} over"
    )
    await page.get_by_label("What did you see or hear?").fill("   ")
    await page.get_by_role("button", name="Post", exact=True).click()
    await expect(page.locator("#post-error")).to_have_text(
        "Write something before posting: the post is empty."
    )
    await context.close()
