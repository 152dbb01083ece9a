"""Launching Debian's Chromium for the journeys, and the page helpers they share."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from tests import db_backends
from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Device(TypedDict, total=False):
    """The `Browser.new_context` keywords a journey varies, so `**device` type-checks."""

    viewport: ViewportSize
    is_mobile: bool
    has_touch: bool
    device_scale_factor: float


PHONE: Device = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP: Device = {"viewport": {"width": 1280, "height": 900}}
TIMEOUT_MS = 15_000  # generous: the assertions auto-wait, they do not sleep


def skip_reason() -> str | None:
    """Browser journeys run in the SQLite pass only; a missing Chromium is a failure
    there (`require_chromium`), never a skip: a skipped journey is not a passed one."""
    if db_backends.selected() == "postgres":
        return "browser journeys test the browser, not the database: covered in the SQLite pass"
    return None


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (.ci/test-deps)")


e2e_only = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
expect.set_options(timeout=TIMEOUT_MS)


async def new_page(browser: Browser, base_url: str, device: Device) -> Page:
    context: BrowserContext = await browser.new_context(base_url=base_url, **device)
    context.set_default_timeout(TIMEOUT_MS)
    return await context.new_page()


async def log_in(page: Page, email: str, then: str = "/") -> None:
    await page.goto(f"/login?next={then}")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**{then}")
    await live_connected(page)


async def live_connected(page: Page) -> None:
    """Wait until the page's websocket has said hello (live.js marks the body)."""
    await expect(page.locator("body[data-live='connected']")).to_have_count(1)


async def post_from_page(page: Page, body: str, kind: str = "update") -> None:
    await page.get_by_label("What did you see or hear?").fill(body)
    await page.get_by_label("Kind").select_option(kind)
    await page.get_by_role("button", name="Post", exact=True).click()


CACHED_PATHS = """async () => {
  const paths = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) paths.push(new URL(request.url).pathname);
  }
  return paths;
}"""


def feed_item(page: Page, text: str) -> Locator:
    return page.locator(".feed li.post").filter(has_text=text)
