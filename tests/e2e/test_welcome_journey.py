"""A first sign-in through a one-time link, in a real browser: an administrator makes the
link on the people page (desktop), the person opens it on a phone, sets a password and is
signed in; the spent link then shows the refusal. axe finds no serious or critical
violations on any of these pages. Screenshots: docs/screenshots/welcome-*.png."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page, expect

from feeds.accounts.passwords import unusable_password_hash
from feeds.models import Role
from tests.conftest import Factory
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, live_connected, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import blocking_violations

pytestmark = e2e_only
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NEW_PASSWORD = "kettle harbour lantern 42"


async def checked(page: Page, name: str, found: dict[str, list[str]]) -> None:
    found[name] = await blocking_violations(page)
    await page.screenshot(path=str(SCREENSHOTS / f"welcome-{name}.png"), full_page=True)


async def test_an_administrator_passes_on_a_link_and_the_person_signs_in_on_a_phone(
    site: Site, browser: Browser
) -> None:
    make = Factory()
    admin = await make.professional(
        role=Role.ADMIN, email="ruth.admin@northgate.test", name="Ruth Adeyemi", handle="ruth"
    )
    person = await make.professional(
        email="daniel.mensah@northgate.test",
        name="Daniel Mensah",
        handle="daniel",
        job_title="Health visitor",
        password_hash=unusable_password_hash(),  # as `jigsaw import people` leaves them
    )
    found: dict[str, list[str]] = {}
    desk = await new_page(browser, site.base_url, DESKTOP)
    await log_in(desk, admin.email)
    await desk.goto("/admin/people")
    await checked(desk, "people-desktop", found)
    await desk.get_by_role("button", name=f"Sign-in link for {person.name}").click()
    await expect(
        desk.get_by_role("heading", name=f"Sign-in link for {person.name}")
    ).to_be_visible()
    link = await desk.get_by_role("textbox", name="Sign-in link").input_value()
    assert link.startswith(site.base_url + "/welcome/")
    await checked(desk, "link-desktop", found)

    phone = await new_page(browser, site.base_url, PHONE)
    await phone.goto(link)
    await expect(phone.get_by_role("heading", name=f"Welcome, {person.name}")).to_be_visible()
    await checked(phone, "set-password-phone", found)
    await phone.get_by_label("New password").fill(NEW_PASSWORD)
    await phone.get_by_label("The same password again").fill(NEW_PASSWORD)
    await phone.get_by_role("button", name="Set password and sign in").click()
    await live_connected(phone)
    assert phone.url.rstrip("/") == site.base_url
    await expect(phone.get_by_role("heading", level=1)).to_be_visible()

    await phone.goto(link)  # spent: the same refusal as any unusable link
    await expect(
        phone.get_by_role("heading", name="This sign-in link cannot be used")
    ).to_be_visible()
    await checked(phone, "refused-phone", found)
    assert found == {name: [] for name in found}
