"""Dates and date-times from clients, kept inside years 1900-2999 so that the day
arithmetic routes do (the next day, a period either side) can never overflow."""

from __future__ import annotations

from datetime import UTC, date, datetime

from starlette.requests import Request

from feeds.errors import Invalid

YEARS = (1900, 2999)


def _in_range(year: int) -> bool:
    low, high = YEARS
    return low <= year <= high


def parse_day(raw: str, message: str, field: str) -> date:
    """A date written YYYY-MM-DD in the supported years, or Invalid(message)."""
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not _in_range(day.year):
        raise Invalid(message, field=field)
    return day


def parse_moment(raw: str, message: str, field: str) -> datetime:
    """An ISO 8601 date-time in the supported years, or Invalid(message). A naive time
    stays naive (callers decide what that means); an aware one must convert to UTC."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(message, field=field) from None
    return check_moment(moment, message, field)


def check_moment(moment: datetime, message: str, field: str) -> datetime:
    """The date-time (already parsed, e.g. by a schema) when it lies in the supported
    years, read in UTC when it has a time zone; else Invalid(message)."""
    try:
        in_utc = moment.astimezone(UTC) if moment.tzinfo else moment
    except OverflowError:
        raise Invalid(message, field=field) from None
    if not _in_range(in_utc.year):
        raise Invalid(message, field=field)
    return moment


def query_day(request: Request, name: str) -> date | None:
    """The query parameter `name` as a YYYY-MM-DD date, or None when absent or empty."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    return parse_day(raw, f"{name} must be a date written YYYY-MM-DD.", name)
