"""The one place that reads the wall clock, so every time-stamp is UTC and aware."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
