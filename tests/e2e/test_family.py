"""Households in a browser: the lead links a second child into a household from its family
page; the family shows the children they may see with their verdicts, and a sibling they
may not see only as a placeholder with "Ask to join", which sends a request without ever
showing who the child is. On a phone the colleague in the team sees the same family.
Screenshots: docs/screenshots/family-desktop.png and family-phone.png."""

from __future__ import annotations

from datetime import date

from playwright.async_api import Browser, expect

from feeds.audit.records import AuditContext
from feeds.feed.posting import do_create_post
from feeds.models import Child, Professional, Role
from feeds.network.households import do_link
from feeds.network.models import AccessRequest
from tests.conftest import Factory
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations

pytestmark = e2e_only
CTX = AuditContext(ip="127.0.0.1", request_id="e2e")
HIDDEN = "Another child in this household whom you cannot see"
SECRET = ("Ella Turner", "NG-2001", "CANARY-ELLA")


async def a_hidden_sister(site: Site) -> Child:
    """Leo's sister, known to another service only, linked into Leo's household."""
    make = Factory()
    other_lead = await make.professional(name="Rita Vance", email="rita@elsewhere.test")
    ella = await Child.create(
        display_name="Ella Turner",
        reference="NG-2001",
        date_of_birth=date(2019, 1, 9),
        lead_professional=other_lead,
    )
    await make.grant(ella, professional=other_lead)
    body = "CANARY-ELLA told nursery staff she is scared of the new boyfriend."
    await do_create_post(other_lead, ella.id, "concern", body, CTX)
    admin = await make.professional(role=Role.ADMIN)
    await do_link(admin, ella.id, site.world.child.id, "sibling", CTX)
    return ella


async def test_a_lead_links_a_child_and_asks_to_join_a_sibling_they_cannot_see(
    site: Site, browser: Browser
) -> None:
    await a_hidden_sister(site)
    leo, maya = site.world.child, site.world.others[0]
    lead: Professional = site.world.teammate
    page = await new_page(browser, site.base_url, DESKTOP)
    await log_in(page, lead.email, then=f"/children/{maya.id}")
    await page.get_by_role("link", name="Family and household").click()
    await expect(page.locator("#no-household")).to_be_visible()
    await page.get_by_label(f"Link {maya.display_name} with").select_option(str(leo.id))
    await page.get_by_role("button", name="Link", exact=True).click()
    await page.wait_for_url(f"**/children/{maya.id}/family")
    family = page.locator("#family")
    await expect(family.get_by_role("link", name=leo.display_name)).to_be_visible()
    await expect(family.get_by_role("link", name=maya.display_name)).to_be_visible()
    await expect(page.locator(".hidden-child > p")).to_have_text(HIDDEN + ".")
    await page.screenshot(path=SCREENSHOTS / "family-desktop.png", full_page=True)
    for secret in SECRET:
        assert secret not in await page.content()
    await page.get_by_text("Ask to join").click()
    await page.get_by_label("Your role with this child").fill("social worker for Leo and Maya")
    await page.get_by_label("Why you need to join").fill(
        "Working with the whole household after the referral about Leo."
    )
    await page.get_by_role("button", name="Send the request").click()
    await expect(page.locator("#ask-sent")).to_contain_text("Sent to the lead professional")
    for secret in SECRET:
        assert secret not in await page.content()
    asked = await AccessRequest.get(requester_id=lead.id)
    assert asked.reference.startswith("household slot")
    await page.goto("/access-requests")
    for secret in SECRET:
        assert secret not in await page.content()


async def test_the_family_page_on_a_phone(site: Site, browser: Browser) -> None:
    await a_hidden_sister(site)
    leo = site.world.child
    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, site.world.phone_user.email, then=f"/children/{leo.id}/family")
    await expect(page.get_by_role("heading", name=f"Family of {leo.display_name}")).to_be_visible()
    await expect(page.locator(".hidden-child")).to_contain_text(HIDDEN)
    await expect(page.locator("#family-concerns")).to_contain_text("Bruise on left forearm")
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / "family-phone.png", full_page=True)
    for secret in SECRET:
        assert secret not in await page.content()
