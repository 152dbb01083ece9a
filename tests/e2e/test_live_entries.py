"""A system entry arrives on an open child page without a reload: the lead links the child
into a household from another screen, and the feed shows "Network: ..." at the top."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from feeds.audit.records import AuditContext
from feeds.network.households import do_link
from tests.e2e.browser import PHONE, e2e_only, log_in, new_page
from tests.e2e.conftest import Site

pytestmark = e2e_only


async def test_a_household_link_appears_live_on_the_childs_page(
    site: Site, browser: Browser
) -> None:
    world = site.world
    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, world.teammate.email, f"/children/{world.child.id}")
    await expect(page.locator("body[data-live=connected]")).to_have_count(1)

    ctx = AuditContext(ip="127.0.0.1", request_id="e2e-entry")
    await do_link(world.teammate, world.child.id, world.others[0].id, "sibling", ctx)

    entry = page.locator("#child-feed > li.system-entry").first
    await expect(entry).to_contain_text("Network")
    await expect(entry).to_contain_text("household")
    assert world.others[0].display_name not in (await entry.text_content() or "")
