"""Helpers for tests of two-step sign-in: an enrolled account, codes an app would show,
and signing in through the HTML form (which leaves an MFA-pending session)."""

from __future__ import annotations

import html
import re
import time

import httpx
import pyotp

from feeds.clock import utcnow
from feeds.models import MfaFactor, Professional
from tests.conftest import PASSWORD


async def enrolled(person: Professional) -> str:
    """Give `person` a confirmed authenticator; returns its secret."""
    secret = pyotp.random_base32()
    await MfaFactor.create(professional=person, secret=secret, confirmed_at=utcnow())
    return secret


def code(secret: str, steps_ahead: int = 0) -> str:
    """The code an app shows now (or `steps_ahead` 30-second steps from now, within the
    one-step drift the server allows: a test can use two codes without waiting)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name} field in the page"
    return html.unescape(match.group(1))


async def post_form(
    client: httpx.AsyncClient, page_path: str, action: str, **fields: str
) -> httpx.Response:
    """Load `page_path`, then post its CSRF token and `fields` to `action`."""
    page = await client.get(page_path)
    assert page.status_code == 200, page.text
    data = {"csrftoken": hidden(page.text, "csrftoken"), **fields}
    origin = {"origin": str(client.base_url).rstrip("/")}  # a same-site form post
    return await client.post(action, data=data, headers=origin)


async def password_step(client: httpx.AsyncClient, email: str, next_path: str = "/") -> str:
    """Sign in with the password through the form; returns where it sends the browser.
    Later unsafe calls from this client carry the CSRF header."""
    response = await post_form(
        client, "/login", "/login", email=email, password=PASSWORD, next=next_path
    )
    assert response.status_code == 303, response.text
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]
    return response.headers["location"]
