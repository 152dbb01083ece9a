"""Journeys in a real browser: search and open a hit (never a hit on a child you may not
see), and a manager's board re-ranking live after a burst of posts on a quiet child,
through the tab's one websocket."""

from __future__ import annotations

import re
from datetime import date

import httpx
from playwright.async_api import Browser, Locator, Page, expect

from feeds.feed.posting import do_create_post
from feeds.models import Agency, Child, Grant, Professional, Sector
from tests.conftest import api_login
from tests.e2e.browser import DESKTOP, PHONE, e2e_only, log_in, new_page
from tests.e2e.conftest import Site
from tests.e2e.world import BURST, CTX, add_quiet_child, person, search_index_caught_up

pytestmark = e2e_only


async def a_child_the_team_may_not_see() -> tuple[Child, Professional]:
    police = await Agency.create(name="Northgate Police", sector=Sector.POLICE)
    officer = await person(police, "Dana Kerr", "dana.kerr", "Police officer")
    hidden = await Child.create(
        display_name="Ella Price", reference="NG-2001", date_of_birth=date(2015, 1, 9)
    )
    await Grant.create(child=hidden, professional=officer)
    return hidden, officer


async def test_search_shows_only_visible_hits_and_a_hit_opens_the_post(
    site: Site, browser: Browser
) -> None:
    world = site.world
    hidden, officer = await a_child_the_team_may_not_see()
    secret = "Ella says the trampoline next door is where the older boys wait for her."
    await do_create_post(officer, hidden.id, "concern", secret, CTX)
    mine = await do_create_post(
        world.phone_user,
        world.child.id,
        "hunch",
        "Leo keeps talking about a trampoline at 'the other house'; nobody knows whose.",
        CTX,
    )
    await search_index_caught_up()

    page = await new_page(browser, site.base_url, PHONE)
    await log_in(page, world.teammate.email)
    await page.get_by_label("Search posts you may see").fill("trampoline")
    await page.get_by_label("Search posts you may see").press("Enter")
    await page.wait_for_url(re.compile(r"/search\?q=trampoline$"))

    await expect(page.get_by_role("heading", name="1 result")).to_be_visible()
    hits = page.locator("#main ol.feed li.post")
    await expect(hits).to_have_count(1)
    await expect(hits.first.locator("mark")).to_have_text(re.compile("^trampoline$", re.I))
    await expect(hits.first).to_contain_text("Priya Shah")
    # The same word on a child this practitioner may not see never reaches the page.
    await expect(page.get_by_text("Ella", exact=False)).to_have_count(0)
    assert "older boys" not in await page.content()

    await hits.first.get_by_role("link", name="Leo Turner").click()
    await page.wait_for_url(f"**/children/{world.child.id}?post={mine.post.id}#post-{mine.post.id}")
    opened = page.locator(f"#post-{mine.post.id}")
    await expect(opened).to_be_visible()
    await expect(opened).to_be_focused()
    await expect(opened).to_contain_text("the other house")
    await expect(page.get_by_role("heading", name=re.compile("^Leo Turner"))).to_be_visible()


async def post_burst(site: Site, child: Child, teacher: Professional) -> None:
    """Teammates from three agencies post through the JSON API, as their phones would."""
    people = {"phone_user": site.world.phone_user, "teammate": site.world.teammate}
    people["teacher"] = teacher
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for who, author in people.items():
            clients[who] = httpx.AsyncClient(base_url=site.base_url, timeout=30)
            await api_login(clients[who], author.email)
        for who, kind, body in BURST:
            response = await clients[who].post(
                f"/api/v1/children/{child.id}/posts", json={"kind": kind, "body": body}
            )
            assert response.status_code == 201, response.text
    finally:
        for client in clients.values():
            await client.aclose()


def board_rows(page: Page) -> Locator:
    return page.locator("ol.board > li.board-row")


async def test_the_board_reranks_live_after_a_burst_on_a_quiet_child(
    site: Site, browser: Browser
) -> None:
    quiet, teacher = await add_quiet_child(site.world)
    page = await new_page(browser, site.base_url, DESKTOP)
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    await log_in(page, site.world.manager.email, "/board")
    ruby = board_rows(page).filter(has_text="Ruby Carter")
    await expect(ruby).to_have_count(1)
    await expect(ruby).not_to_have_class(re.compile(r"\bflagged\b"))
    await expect(board_rows(page).first).not_to_contain_text("Ruby Carter")
    await page.evaluate("window.boardMark = 'not reloaded'")

    await post_burst(site, quiet, teacher)

    # Without a reload: the watcher flags Ruby, the board hears it and re-ranks in place.
    top = board_rows(page).first
    await expect(top).to_contain_text("Ruby Carter", timeout=30_000)
    await expect(top).to_have_class(re.compile(r"\bflagged\b"))
    await expect(top.locator(".badge-flag")).to_have_text("Flagged")
    await expect(top.locator(".reasons").first).to_contain_text("agencies")
    await expect(page.locator("#live-announcer")).to_contain_text(
        "Ruby Carter is now flagged", timeout=30_000
    )
    await expect(page.locator("#board-flagged")).not_to_have_text("0")
    assert await page.evaluate("window.boardMark") == "not reloaded"
    # One websocket for the tab: the board listens to live.js instead of opening its own.
    assert [url for url in sockets if "/ws" in url] == sockets and len(sockets) == 1
