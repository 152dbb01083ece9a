"""The chronology in a real browser: the lead marks a post significant with action taken
and outcome, filters to significant posts and downloads the PDF (desktop); the same page
on a phone. Screenshots: docs/screenshots/chronology-*.png."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from pypdf import PdfReader

from tests.e2e.browser import DESKTOP, PHONE, Device, e2e_only, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import SCREENSHOTS, blocking_violations

pytestmark = e2e_only


async def test_the_lead_marks_a_post_and_downloads_the_chronology_pdf(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    world = site.world  # the teammate leads Leo
    page = await new_page(browser, site.base_url, DESKTOP)
    await log_in(page, world.teammate.email, f"/children/{world.child.id}")
    await page.get_by_role("link", name="Chronology", exact=True).click()
    await expect(
        page.get_by_role("heading", name=re.compile("Chronology: Leo Turner"))
    ).to_be_visible()
    rows = page.locator("table.chronology tbody tr")
    first_post = rows.filter(has=page.get_by_role("link", name="Mark significant")).first
    event = (await first_post.locator("td[data-label=Event]").inner_text()).split(
        " Mark significant"
    )[0]
    await first_post.get_by_role("link", name="Mark significant").click()
    await page.get_by_label("Action taken").fill("Home visit the same day; safety plan agreed.")
    await page.get_by_label("Outcome for the child").fill("No further injuries seen.")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_url(re.compile(rf"/children/{world.child.id}/chronology$"))
    await page.get_by_label("Significant only").check()
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url(re.compile(r"significant=true"))
    # The marked post, and system events that always count (a new agency): no other post.
    marked = rows.filter(has_text="safety plan agreed")
    await expect(marked).to_have_count(1)
    await expect(marked).to_contain_text("Significant")
    await expect(page.get_by_role("link", name="Mark significant")).to_have_count(0)
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / "chronology-desktop.png", full_page=True)
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Download PDF").click()
    download = await waiting.value
    assert re.fullmatch(r"chronology-NG-1000-\d{4}-\d{2}-\d{2}\.pdf", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    pages = PdfReader(io.BytesIO(saved.read_bytes())).pages
    text = " ".join(" ".join(p.extract_text() for p in pages).split())  # cells wrap
    assert "OFFICIAL-SENSITIVE" in text and "Page 1 of 1" in text
    assert "Leo Turner" in text and "NG-1000" in text
    assert "significant only: yes" in text
    assert "safety plan agreed" in text and event.split(": ", 1)[1][:30] in text


@pytest.mark.parametrize("device", [PHONE])
async def test_the_chronology_reads_on_a_phone(
    site: Site, browser: Browser, device: Device
) -> None:
    world = site.world
    page = await new_page(browser, site.base_url, device)
    await log_in(page, world.phone_user.email, f"/children/{world.child.id}/chronology")
    await expect(page.locator("table.chronology tbody tr").first).to_be_visible()
    await expect(page.get_by_role("link", name="Download PDF")).to_be_visible()
    assert await blocking_violations(page) == []
    await page.screenshot(path=SCREENSHOTS / "chronology-phone.png", full_page=True)
