"""The team around the child as a picture, on a phone and a desktop: a social worker adds
their work phone on their account page, opens the team from the child page, sees the
school gone quiet, access ending soon and call/email links, with nothing scrolling
sideways at 390 px; axe finds nothing serious."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Browser, Page, expect

from feeds.clock import utcnow
from feeds.models import Agency, Grant, Post, PostKind, Sector
from feeds.silence.verdicts import do_recompute_silence
from feeds.velocity.tallies import rebuild_days
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations
from tests.e2e.world import World, person

pytestmark = e2e_only


async def school_gone_quiet_and_gp_ending(world: World) -> None:
    """A school that posted every week for ten weeks and then stopped; a GP whose access
    ends in three days; the health visitor's work contact on her profile."""
    school = await Agency.create(name="Northgate Primary School", sector=Sector.EDUCATION)
    teacher = await person(school, "Tom Reid", "tom.reid", "Designated safeguarding lead")
    teacher.work_phone, teacher.work_email = (
        "01632 960 417",
        "tom.reid@northgate-primary.example.org",
    )
    await teacher.save()
    gp_practice = await Agency.create(name="Vale Road Surgery", sector=Sector.HEALTH)
    gp = await person(gp_practice, "Dr Amina Patel", "amina.patel", "GP")
    gp.work_phone = "01632 960 733"
    await gp.save()
    world.phone_user.work_phone = "01632 960 205"
    world.phone_user.work_email = "priya.shah@northgate-health.example.org"
    await world.phone_user.save()
    now = utcnow()
    granted = await Grant.create(child=world.child, professional=teacher)
    await Grant.filter(id=granted.id).update(created_at=now - timedelta(days=95))
    await Grant.create(child=world.child, professional=gp, expires_at=now + timedelta(days=3))
    for week in range(10):
        post = await Post.create(
            child=world.child,
            author=teacher,
            kind=PostKind.UPDATE,
            body="Weekly check-in: settled in class, eating breakfast club.",
        )
        at = now - timedelta(days=23 + 7 * week, hours=2)
        await Post.filter(id=post.id).update(created_at=at)
    await rebuild_days([world.child.id])
    await do_recompute_silence([world.child.id], now)


async def no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    viewport = await page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page scrolls sideways: {width} > {viewport}"


async def test_the_team_picture_on_a_phone_and_a_desktop(site: Site, browser: Browser) -> None:
    world = site.world
    await school_gone_quiet_and_gp_ending(world)
    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, world.teammate.email, "/account")
    await page.get_by_label("Work phone").fill("01632 960 118")
    await page.get_by_label("Work email").fill("sam.okoro@northgate-cs.example.org")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved.")

    await page.goto(f"/children/{world.child.id}")
    await page.get_by_role("link", name="The team as a picture").click()
    await page.wait_for_url(f"**/children/{world.child.id}/team")
    await expect(page.locator("#quiet-summary")).to_contain_text(
        "Northgate Primary School has stopped posting"
    )
    school = page.locator("li.agency", has_text="Northgate Primary School").first
    await expect(school.get_by_text("Gone quiet").first).to_be_visible()
    await expect(school).to_contain_text("posted about every 7 days")
    call = school.get_by_role("link", name="Call 01632 960 417 (Tom Reid)")
    await expect(call).to_have_attribute("href", "tel:01632960417")
    gp = page.locator("li.holder", has_text="Dr Amina Patel")
    await expect(gp).to_contain_text("Access ends in 3 days")
    team = page.locator("li.holder", has_text="Northgate Family Support")
    email = team.get_by_role("link", name="Email sam.okoro@northgate-cs.example.org (Sam Okoro)")
    await expect(email).to_have_attribute("href", "mailto:sam.okoro@northgate-cs.example.org")
    await no_sideways_scroll(page)
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / "team-around-child-phone.png", full_page=True)

    desktop = await new_page(browser, site.base_url, DESKTOP)
    await log_in(desktop, world.manager.email, f"/children/{world.child.id}/team")
    await expect(desktop.locator("#quiet-summary")).to_be_visible()
    await no_sideways_scroll(desktop)
    assert await blocking_violations(desktop) == []
    await desktop.screenshot(path=SCREENSHOTS / "team-around-child-desktop.png", full_page=True)
