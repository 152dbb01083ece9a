"""One-time sign-in links: what an administrator gets back (the link, shown once)."""

from __future__ import annotations

from msgspec import Struct


class SignInLink(Struct):
    """A new link for this person; their older links stopped working. The token is in
    `url` and `path` only, and is never shown again."""

    professional_id: int
    name: str
    email: str
    url: str
    path: str
    expires_at: str
