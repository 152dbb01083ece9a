"""Bulk import from the administrators' page, in a real browser: pick a CSV file, preview
what it would do, pick the same file again and import it; then a file with a refused row
shows its line and imports nothing. axe finds no serious or critical violations.
Screenshots: docs/screenshots/import-*.png."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page, expect

from feeds.models import Child, Role
from tests.conftest import Factory
from tests.e2e.browser import DESKTOP, e2e_only, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.test_pages_look_and_access import blocking_violations

pytestmark = e2e_only
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
REASON = "Caseload moved over from the old system"


async def checked(page: Page, name: str, found: dict[str, list[str]]) -> None:
    found[name] = await blocking_violations(page)
    await page.screenshot(path=str(SCREENSHOTS / f"import-{name}.png"), full_page=True)


async def preview(page: Page, file: Path) -> None:
    await page.goto("/admin/import")
    await page.get_by_label("What the file holds").select_option("children")
    await page.get_by_label("Why (kept in the audit log)").fill(REASON)
    await page.get_by_label("CSV file").set_input_files(str(file))
    await page.get_by_role("button", name="Preview (changes nothing)").click()


async def test_an_administrator_uploads_previews_and_imports_a_file(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    make = Factory()
    admin = await make.professional(
        role=Role.ADMIN, email="ruth.admin@northgate.test", name="Ruth Adeyemi", handle="ruth"
    )
    lead = await make.practitioner()
    good = tmp_path / "caseload.csv"
    rows = [f"IMP-{n},Child {n},2015-0{n}-12,{lead.email},Northgate Primary" for n in (1, 2, 3)]
    good.write_text("reference,display_name,date_of_birth,lead_email,school\n" + "\n".join(rows))
    found: dict[str, list[str]] = {}
    page = await new_page(browser, site.base_url, DESKTOP)
    await log_in(page, admin.email)

    await preview(page, good)
    await expect(
        page.get_by_role("heading", name="Preview: children from caseload.csv")
    ).to_be_visible()
    await expect(page.locator("#import-counts")).to_have_text(
        "3 created, 0 changed, 0 unchanged, 0 refused."
    )
    await checked(page, "preview-desktop", found)
    assert not await Child.filter(reference__startswith="IMP-").exists()
    await page.get_by_label("The same file").set_input_files(str(good))
    await page.get_by_role("button", name="Import children").click()
    await expect(
        page.get_by_role("heading", name="Imported: children from caseload.csv")
    ).to_be_visible()
    assert await Child.filter(reference__startswith="IMP-").count() == 3
    await checked(page, "done-desktop", found)

    bad = tmp_path / "more.csv"
    bad.write_text(good.read_text() + f"\nIMP-4,Child 4,2015-13-40,{lead.email},\n")
    await preview(page, bad)
    await expect(page.get_by_role("cell", name="refused", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Import children")).to_have_count(0)
    await checked(page, "refused-desktop", found)
    assert found == {name: [] for name in found}
