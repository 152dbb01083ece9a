"""Correcting one's own post and mentioning people, in a real browser at phone and desktop
sizes: Edit opens a form under the post, the change reaches another open screen live,
"(edited)" shows the earlier wording; typing "@hel" offers the people who may see the child
and picking one writes their handle; a handle that reaches nobody is said on the page."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from feeds.models import Notification, Post
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, feed_item, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations

pytestmark = e2e_only
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


@pytest.mark.parametrize("label", DEVICES.keys())
async def test_edit_a_post_see_its_history_and_mention_by_picking_a_name(
    site: Site, browser: Browser, label: str
) -> None:
    world, child = site.world, site.world.child
    page = await new_page(browser, site.base_url, DEVICES[label])
    await log_in(page, world.phone_user.email, f"/children/{child.id}")
    other = await new_page(browser, site.base_url, DESKTOP)  # a colleague's open screen
    await log_in(other, world.teammate.email, f"/children/{child.id}")

    mine = (
        await Post.filter(child_id=child.id, author_id=world.phone_user.id).order_by("-id").first()
    )
    assert mine is not None
    item = page.locator(f"#post-{mine.id}")
    await item.get_by_role("link", name="Edit your").click()
    box = item.get_by_label("Correct your post")
    await expect(box).to_be_focused()
    await expect(box).to_have_value(mine.body)
    corrected = f"{mine.body} (corrected: it was Tuesday)"
    await box.fill(corrected)
    await expect(item.locator(".char-count")).to_have_text(f"{len(corrected)} of 500 characters")
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / f"post-edit-{label}.png")
    await item.get_by_role("button", name="Save").click()
    await expect(page.locator(f"#post-{mine.id} .body")).to_have_text(corrected)
    await expect(page.locator(f"#post-{mine.id} .edit-form")).to_have_count(0)
    # The colleague's screen follows without a reload.
    await expect(other.locator(f"#post-{mine.id} .body")).to_have_text(corrected)
    await expect(other.locator(f"#post-{mine.id} a.edited")).to_have_count(1)
    await expect(
        other.locator(f"#post-{mine.id}").get_by_role("link", name="Edit your")
    ).to_have_count(0)

    await page.locator(f"#post-{mine.id} a.edited").click()
    await page.wait_for_url(f"**/posts/{mine.id}/history")
    await expect(page.locator(".revisions .body")).to_have_text([mine.body])
    await expect(page.locator(".revision-now .body")).to_have_text(corrected)
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / f"post-edit-history-{label}.png", full_page=True)

    await page.goto(f"/children/{child.id}")
    compose = page.get_by_label("What did you see or hear?")
    await compose.click()
    await compose.press_sequentially("Asked @hel")
    options = page.get_by_role("listbox", name="People you can mention").get_by_role("option")
    await expect(options).to_have_count(1)
    await expect(options.first).to_contain_text("Helen Marsh")
    await expect(options.first).to_contain_text("@helen.marsh")
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / f"mention-{label}.png")
    if label == "phone":
        await options.first.tap()
    else:
        await compose.press("Enter")
    await expect(compose).to_have_value("Asked @helen.marsh ")
    await compose.press_sequentially("to call mum")
    await page.get_by_role("button", name="Post", exact=True).click()
    await expect(feed_item(page, "Asked @helen.marsh to call mum")).to_have_count(1)
    assert await Notification.filter(recipient_id=world.manager.id, kind="mention").count() >= 1

    await compose.fill("Copying @someone.else in")
    await page.get_by_role("button", name="Post", exact=True).click()
    await expect(page.locator("#mention-notes")).to_have_text(
        "@someone.else: nobody of that handle can see this child, so nobody was notified."
    )
    await page.screenshot(path=SCREENSHOTS / f"mention-unreachable-{label}.png")
    await other.context.close()
    await page.context.close()
