"""Fixtures for the browser journeys: a real server with a small world, and Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, async_playwright

from server.settings import Settings
from tests.e2e.browser import ARGS, CHROMIUM, require_chromium, skip_reason
from tests.e2e.world import World, build_world
from tests.live_server import running_server


@dataclass
class Site:
    base_url: str
    world: World


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    if skip_reason():
        pytest.skip(skip_reason() or "")
    async with running_server(settings) as address:
        yield Site(f"http://{address}", await build_world())


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if skip_reason():
        pytest.skip(skip_reason() or "")
    require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        await chromium.close()
