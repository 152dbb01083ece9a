"""What changed since I last looked, on a phone and a desktop: the lead social worker sees
"2 new" for Leo under My children, opens Leo's page at the "New since your last visit"
divider, a post arriving live counts as seen; the team manager makes the team follow Leo
and the health visitor reads it under "Since yesterday". Axe finds nothing serious."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from feeds.feed.posting import do_create_post
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, live_connected, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations
from tests.e2e.test_team_picture import no_sideways_scroll
from tests.e2e.world import CTX

pytestmark = e2e_only


async def looks_right(page: Page, name: str) -> None:
    await no_sideways_scroll(page)
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / name, full_page=True)


async def test_new_since_last_visit_my_children_and_since_yesterday(
    site: Site, browser: Browser
) -> None:
    world = site.world
    leo = world.child
    sam = await new_page(browser, site.base_url, PHONE)
    await log_in(sam, world.teammate.email, f"/children/{leo.id}")  # Sam has read Leo's feed
    for kind, body in (
        ("update", "Nursery: Leo arrived hungry twice this week; breakfast given."),
        ("hunch", "Mum seemed frightened when the doorbell rang during the visit."),
    ):
        await do_create_post(world.phone_user, leo.id, kind, body, CTX)

    await sam.goto("/")
    await live_connected(sam)
    mine = sam.locator("#my-children li").first
    await expect(mine).to_contain_text(leo.display_name)
    await expect(mine).to_contain_text("2 new")
    await looks_right(sam, "my-children-phone.png")

    await mine.get_by_role("link").click()
    await sam.wait_for_url(f"**/children/{leo.id}")
    await live_connected(sam)
    await expect(sam.locator("#new-since")).to_have_text("New since your last visit: 2 posts")
    await expect(sam.locator("li.post.unseen")).to_have_count(2)
    await expect(sam.locator("li.post.unseen").first).to_contain_text("New")
    await looks_right(sam, "new-since-last-visit-phone.png")

    async with sam.expect_response(lambda r: r.url.endswith(f"/children/{leo.id}/seen")) as seen:
        await do_create_post(world.phone_user, leo.id, "visit", "Dropped in: all calm.", CTX)
        await expect(sam.locator("li.post").filter(has_text="Dropped in")).to_be_visible()
    assert (await seen.value).status == 200
    await sam.reload()
    await expect(sam.locator("li.post").filter(has_text="Dropped in")).to_be_visible()
    await expect(sam.locator("#new-since")).to_have_count(0)  # the live post counted as seen

    helen = await new_page(browser, site.base_url, DESKTOP)
    await log_in(helen, world.manager.email, f"/children/{leo.id}")
    await helen.get_by_role("button", name=f"Make {world.team.name} follow").click()
    await expect(helen.locator("#follow")).to_contain_text(f"{world.team.name} follows")
    await helen.goto("/")
    await live_connected(helen)
    await expect(helen.locator("#my-children")).to_contain_text(leo.display_name)
    await looks_right(helen, "my-children-desktop.png")

    priya = await new_page(browser, site.base_url, PHONE)
    await log_in(priya, world.phone_user.email, "/since-yesterday")
    group = priya.locator("section.since-child", has_text=leo.display_name)
    await expect(group).to_contain_text("Dropped in: all calm.")
    await expect(priya.locator("#since-summary")).to_contain_text("00:00 UTC")
    await looks_right(priya, "since-yesterday-phone.png")

    await helen.goto("/since-yesterday")
    await live_connected(helen)
    await expect(helen.locator("section.since-child", has_text=leo.display_name)).to_be_visible()
    await looks_right(helen, "since-yesterday-desktop.png")
