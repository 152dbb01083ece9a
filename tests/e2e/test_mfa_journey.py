"""Two-step sign-in in a real browser: set up an authenticator from the page, sign in
with a code, and the administrators' page; axe finds no serious or critical violations
on any of them. Screenshots of the set-up and code pages go to docs/screenshots/."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page, expect

from feeds.models import Role
from tests.conftest import PASSWORD, Factory
from tests.e2e.browser import PHONE, e2e_only, live_connected, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import blocking_violations
from tests.mfa_helpers import code, enrolled

pytestmark = e2e_only
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def accessible(page: Page, name: str, found: dict[str, list[str]]) -> None:
    found[name] = await blocking_violations(page)
    await page.screenshot(path=str(SCREENSHOTS / f"mfa-{name}-phone.png"), full_page=True)


async def password(page: Page, email: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def test_set_up_then_sign_in_with_a_code(site: Site, browser: Browser) -> None:
    page = await new_page(browser, site.base_url, PHONE)
    found: dict[str, list[str]] = {}
    person = site.world.teammate
    await log_in(page, person.email)
    await page.get_by_role("link", name="Sign-in security").click()
    await page.get_by_role("button", name="Set up two-step sign-in").click()
    await expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    await accessible(page, "setup", found)
    secret = (await page.locator("#secret").inner_text()).replace(" ", "")
    await page.get_by_label("Code from your app").fill(code(secret))
    await page.get_by_label("Your password").fill(PASSWORD)  # a session alone is not enough
    await page.get_by_role("button", name="Turn on two-step sign-in").click()
    await expect(page.locator(".recovery-codes li")).to_have_count(10)
    await accessible(page, "recovery-codes", found)
    await page.get_by_role("link", name="I have saved them: continue").click()
    await live_connected(page)
    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_url("**/login")

    await password(page, person.email)
    await page.wait_for_url("**/login/mfa?next=*")
    await accessible(page, "code", found)
    await page.get_by_label("Code", exact=True).fill(code(secret, 1))
    await page.get_by_role("button", name="Continue").click()
    await live_connected(page)
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.url.rstrip("/") == site.base_url
    assert found == {name: [] for name in found}


async def test_the_administrators_page_is_accessible(site: Site, browser: Browser) -> None:
    admin = await Factory().professional(role=Role.ADMIN, email="grace@northgate.test")
    secret = await enrolled(admin)
    page = await new_page(browser, site.base_url, PHONE)
    await password(page, admin.email)
    await page.get_by_label("Code", exact=True).fill(code(secret))
    await page.get_by_role("button", name="Continue").click()
    await live_connected(page)
    await page.get_by_role("link", name="Site sign-in", exact=True).click()
    await expect(page.get_by_role("button", name="Require two-step sign-in")).to_be_visible()
    found = {"admin": await blocking_violations(page)}
    await page.get_by_role("button", name="Require two-step sign-in").click()
    await expect(page.get_by_role("status")).to_contain_text("now required")
    assert found == {"admin": []}
