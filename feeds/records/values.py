"""What a child's record may hold: each field checked once, for creating and for editing."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from feeds.clock import utcnow
from feeds.errors import Invalid

MAX_NAME = 200
MAX_REFERENCE = 32
MAX_PLACE = 200
MAX_ID = 2**31 - 1
# Letters, digits and a few separators, ASCII only: the database folds case with lower(),
# which folds only ASCII letters on SQLite, so both backends refuse the same duplicates.
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]*")


def _text(value: object, field: str, limit: int, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text.", field=field)
    text = value.strip()
    if required and not text:
        raise Invalid(f"{field} is required.", field=field)
    if len(text) > limit:
        raise Invalid(f"{field} is at most {limit} characters ({len(text)} given).", field=field)
    if not text.isprintable():
        raise Invalid(f"{field} cannot contain control characters.", field=field)
    return text


def check_display_name(value: object) -> str:
    return _text(value, "display_name", MAX_NAME, required=True)


def check_reference(value: object) -> str:
    """Trimmed; unique whatever its case (the caller checks uniqueness)."""
    text = _text(value, "reference", MAX_REFERENCE, required=True)
    if not REFERENCE.fullmatch(text):
        raise Invalid(
            "reference may use only letters, digits, spaces and . / _ - (starting with a "
            "letter or digit).",
            field="reference",
        )
    return text


def check_date_of_birth(value: object) -> date:
    if not isinstance(value, str) or len(value.strip()) != 10:
        raise Invalid("date_of_birth must be a date written YYYY-MM-DD.", field="date_of_birth")
    try:
        born = date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(
            "date_of_birth must be a date written YYYY-MM-DD.", field="date_of_birth"
        ) from None
    if born > utcnow().date() or born.year < 1900:
        raise Invalid(
            "date_of_birth cannot be in the future or before 1900.", field="date_of_birth"
        )
    return born


def check_school(value: object) -> str:
    return _text(value, "school", MAX_PLACE, required=False)


def check_area(value: object) -> str:
    return _text(value, "area", MAX_PLACE, required=False)


def check_id(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Invalid(f"{field} must be a positive whole number.", field=field)
    return value


def check_lead_id(value: object) -> int:
    return check_id(value, "lead_professional_id")


CHECKS: dict[str, Callable[[object], Any]] = {
    "display_name": check_display_name,
    "reference": check_reference,
    "date_of_birth": check_date_of_birth,
    "school": check_school,
    "area": check_area,
    "lead_professional_id": check_lead_id,
}
REQUIRED = ("display_name", "reference", "date_of_birth", "lead_professional_id")


def _check_known(data: Mapping[str, object], extra: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(CHECKS) - set(extra))
    if unknown:
        raise Invalid(f"Unknown field: {unknown[0]}.", field=unknown[0])


def check_new_child(data: Mapping[str, object]) -> dict[str, Any]:
    """Every field of a new record, checked; required ones must be present."""
    _check_known(data, ("team_id",))
    for name in REQUIRED:
        if data.get(name) in (None, ""):
            raise Invalid(f"{name} is required.", field=name)
    return {name: check(data.get(name)) for name, check in CHECKS.items()}


def check_changes(data: Mapping[str, object]) -> dict[str, Any]:
    """The fields given in an edit, checked; at least one."""
    _check_known(data, ())
    if not data:
        raise Invalid("Give at least one field to change.")
    return {name: CHECKS[name](value) for name, value in data.items()}
