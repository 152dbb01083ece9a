"""Break-glass in a browser: a police officer without a grant opens a child's page, gets
the refusal with the emergency-access form (accessible: axe finds nothing serious),
gives a reason and lands on the child's record under the emergency banner; the lead
professional is told at once."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, expect

from feeds.models import Agency, Notification, Sector
from tests.conftest import Factory
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, log_in, new_page
from tests.e2e.conftest import Site

pytestmark = e2e_only
REASON = "Child reported missing overnight; need the last known contacts and addresses"


async def an_officer() -> str:
    police = await Agency.create(name="Northgate Police", sector=Sector.POLICE)
    officer = await Factory().professional(
        agency=police, name="Dana Cole", email="dana@northgate.test", handle="dana.cole"
    )
    return officer.email


async def test_an_officer_breaks_glass_from_the_refusal_page(site: Site, browser: Browser) -> None:
    leo = site.world.child
    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, await an_officer(), then=f"/children/{leo.id}")
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(page.get_by_text(leo.display_name)).to_have_count(0)
    warning = page.locator("#break-glass-warning")
    await expect(warning).to_contain_text("audited")
    await expect(warning).to_contain_text("lead professional")
    axe = await Axe().run(page)
    serious = [v for v in axe.response["violations"] if v["impact"] in {"serious", "critical"}]
    assert serious == [], serious
    reason = page.get_by_label("Why do you need emergency access?")
    await expect(reason).to_have_attribute("required", "")
    await reason.fill(REASON)
    await page.get_by_role("button", name="Open the record in an emergency").click()
    await page.wait_for_url(f"**/children/{leo.id}")
    await expect(
        page.get_by_role("alert").filter(has_text="Emergency (break-glass) access")
    ).to_be_visible()
    await expect(page.get_by_role("heading", name=leo.display_name)).to_be_visible()
    alerted = await Notification.filter(kind="break_glass", recipient_id=leo.lead_professional_id)
    assert len(alerted) == 1


async def test_a_reason_too_short_is_stopped_by_the_browser(site: Site, browser: Browser) -> None:
    leo = site.world.child
    page = await new_page(browser, site.base_url, DESKTOP)
    await log_in(page, await an_officer(), then=f"/children/{leo.id}")
    await page.get_by_label("Why do you need emergency access?").fill("urgent")
    await page.get_by_role("button", name="Open the record in an emergency").click()
    reason = page.get_by_label("Why do you need emergency access?")
    valid = await reason.evaluate("field => field.checkValidity()")
    assert valid is False  # minlength: the form was not sent
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert not await Notification.filter(kind="break_glass").exists()
