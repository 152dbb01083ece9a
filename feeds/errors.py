"""Domain exceptions; server/ maps each to one 4xx status."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: `message` is safe to show to the user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """Does not exist, or the caller may not know it exists (the same answer on purpose)."""


class Forbidden(DomainError):
    """The caller may see the thing but may not do this to it."""


class Invalid(DomainError):
    """The input is malformed or breaks a rule."""


class Conflict(DomainError):
    """The request clashes with the current state (e.g. an idempotency key in flight)."""


class Throttled(DomainError):
    """Too many of these too quickly (e.g. requests to join a child's network)."""
