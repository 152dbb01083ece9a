"""Posts waiting on a device when a session ends: logging out deletes them; a session that
expires keeps them, off screen, for the same person, who sends them once on signing in
again; if someone else signs in on the device, they are deleted unsent."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import Browser, Dialog, Page, Route, expect

from feeds.clock import utcnow
from feeds.models import Post, Professional, Session
from tests.conftest import PASSWORD
from tests.e2e.browser import (
    CACHED_PATHS,
    PHONE,
    e2e_only,
    feed_item,
    live_connected,
    log_in,
    new_page,
    post_from_page,
)
from tests.e2e.conftest import Site

pytestmark = e2e_only
POSTS = "**/api/v1/children/*/posts"
KEPT = "Object.keys(localStorage).filter(k => k.startsWith('jigsaw.'))"


async def lose_the_answer(route: Route) -> None:
    """The post reaches the server, but its answer is lost on the way back (a dropped
    connection): the device must keep the post and may only ever resend it with its key."""
    await route.fetch()
    await route.abort("connectionreset")


async def never_arrives(route: Route) -> None:
    await route.abort("internetdisconnected")


async def expire_sessions(person: Professional) -> None:
    await Session.filter(professional_id=person.id).update(
        expires_at=utcnow() - timedelta(minutes=1)
    )


async def sign_in_on_this_page(page: Page, email: str, then: str) -> None:
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**{then}")
    await live_connected(page)


async def test_logging_out_deletes_posts_waiting_on_the_device(
    site: Site, browser: Browser
) -> None:
    child, author = site.world.child, site.world.phone_user
    phone = await new_page(browser, site.base_url, PHONE)
    await log_in(phone, author.email, f"/children/{child.id}")
    await phone.route(POSTS, never_arrives)
    body = "Mum asked us not to write down what she said about the flat. Wrote it anyway."
    await post_from_page(phone, body, "concern")
    await expect(phone.locator("#outbox li").filter(has_text=body)).to_contain_text(
        "Waiting to send"
    )
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    phone.once("dialog", accept)
    await phone.get_by_role("button", name="Log out").click()
    await expect(phone).to_have_url(re.compile(r"/login$"))
    assert asked == ["1 post(s) have not been sent yet. Log out and discard them?"]
    assert await phone.evaluate(KEPT) == []
    assert all(path.startswith("/static/") for path in await phone.evaluate(CACHED_PATHS))
    await phone.go_back()  # the record is not kept anywhere to come back to
    await expect(phone).to_have_url(re.compile(r"/login\?next="))
    await expect(phone.locator(".feed")).to_have_count(0)

    await phone.unroute(POSTS)
    await sign_in_on_this_page(phone, author.email, f"/children/{child.id}")
    await expect(phone.locator("#outbox li")).to_have_count(0)
    await expect(feed_item(phone, body)).to_have_count(0)
    assert await Post.filter(body=body).count() == 0


async def test_an_expired_session_keeps_a_waiting_post_and_sends_it_once_after_signing_in(
    site: Site, browser: Browser
) -> None:
    child, author = site.world.child, site.world.phone_user
    phone = await new_page(browser, site.base_url, PHONE)
    await log_in(phone, author.email, f"/children/{child.id}")
    await phone.route(POSTS, lose_the_answer)
    body = "Leo's nan says the boyfriend has a key now. Needs checking before Friday."
    await post_from_page(phone, body, "hunch")
    # The server has it (the feed shows it live) but the device never heard back: it waits.
    await expect(feed_item(phone, body)).to_have_count(1)
    await expect(phone.locator("#outbox li").filter(has_text=body)).to_be_visible()
    draft = "Also: the dog was shut in the bathroom again"
    await phone.get_by_label("What did you see or hear?").fill(draft)

    await expire_sessions(author)  # the server closes the tab's websocket with 4401
    ended = phone.get_by_role("alert").filter(has_text="Your session has ended")
    await expect(ended).to_contain_text("1 post is waiting on this device, not yet sent")
    await expect(ended).to_contain_text("as Priya Shah")
    await expect(ended).to_contain_text("The post you were writing is kept")
    await expect(phone.locator(".feed")).to_have_count(0)  # the child's record left the screen
    assert await phone.evaluate(KEPT) != []

    await phone.unroute(POSTS)
    await ended.get_by_role("link", name="Sign in again").click()
    await sign_in_on_this_page(phone, author.email, f"/children/{child.id}")
    await expect(feed_item(phone, body)).to_have_count(1)
    await expect(phone.locator("#outbox li")).to_have_count(0)
    await expect(phone.get_by_label("What did you see or hear?")).to_have_value(draft)
    await phone.reload()
    await live_connected(phone)
    await expect(feed_item(phone, body)).to_have_count(1)
    assert await Post.filter(body=body).count() == 1  # the lost answer was not a lost post
    assert await Post.filter(body__contains="dog was shut").count() == 0  # a draft is not sent


async def test_someone_else_signing_in_deletes_what_the_last_person_left_waiting(
    site: Site, browser: Browser
) -> None:
    child, author = site.world.child, site.world.phone_user
    phone = await new_page(browser, site.base_url, PHONE)
    await log_in(phone, author.email, f"/children/{child.id}")
    body = "Neighbour reports a man shouting at the door at 11pm."
    await phone.context.set_offline(True)
    await post_from_page(phone, body, "concern")
    await expect(phone.locator("#outbox li").filter(has_text=body)).to_contain_text(
        "Waiting to send"
    )
    await expire_sessions(author)
    await phone.context.set_offline(False)  # the resend is refused with 401: session over
    ended = phone.get_by_role("alert").filter(has_text="Your session has ended")
    await expect(ended).to_contain_text("1 post is waiting")

    await ended.get_by_role("link", name="Sign in again").click()
    await sign_in_on_this_page(phone, site.world.teammate.email, f"/children/{child.id}")
    assert await phone.evaluate(KEPT) == []
    await expect(phone.locator("#outbox li")).to_have_count(0)
    assert await Post.filter(body=body).count() == 0
