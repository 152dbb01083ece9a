"""What a chronology shows: a period, kinds, agencies, and whether only significant posts.

Kinds are the post kinds (`feeds.kinds.PostKind`) and the system kinds below; a source
for households or shared worry adds its own `SystemKind` member."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from feeds.errors import Invalid
from feeds.kinds import PostKind


class SystemKind(StrEnum):
    ACCESS = "access"  # access granted, asked for, expired, revoked
    BREAK_GLASS = "break_glass"  # emergency access opened
    FLAG = "flag"  # attention and gone-quiet flags raised and cleared
    AGENCY = "agency"  # a new agency around the child
    HOUSEHOLD = "household"  # linked into or out of a household (feeds/network/households.py)
    WORRY = "worry"  # a shared-worry episode opened: its prompt (feeds/network/worry_*)


# System events that always count as significant ("significant only" keeps them): an
# emergency opening, a flag, a new agency, a household link, a shared-worry prompt.
# Access changes are not.
SIGNIFICANT_KINDS = frozenset(SystemKind) - {SystemKind.ACCESS}

KIND_LABELS: dict[str, str] = {
    **{kind.value: kind.value.capitalize() for kind in PostKind},
    SystemKind.ACCESS: "Access",
    SystemKind.BREAK_GLASS: "Emergency access",
    SystemKind.FLAG: "Flags",
    SystemKind.AGENCY: "New agencies",
    SystemKind.HOUSEHOLD: "Household links",
    SystemKind.WORRY: "Shared worry",
}
ALL_KINDS = frozenset(KIND_LABELS)
MAX_AGENCIES = 50


@dataclass(frozen=True)
class Filters:
    """Empty `kinds` or `agencies` means all. Dates are UTC days, both ends included."""

    since: date | None = None
    until: date | None = None
    kinds: frozenset[str] = field(default_factory=frozenset)
    agencies: frozenset[int] = field(default_factory=frozenset)
    significant_only: bool = False
    household: bool = False  # the child's household: every linked child the viewer may see

    @property
    def start(self) -> datetime | None:
        return None if self.since is None else datetime.combine(self.since, time(), UTC)

    @property
    def end(self) -> datetime | None:
        """The first instant after the period (exclusive)."""
        if self.until is None:
            return None
        return datetime.combine(self.until, time(), UTC) + timedelta(days=1)

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def wants_any(self, kinds: frozenset[str]) -> bool:
        return not self.kinds or bool(self.kinds & kinds)

    def as_detail(self) -> dict[str, Any]:
        """JSON-safe, for the audit record of a read or an export."""
        return {
            "from": None if self.since is None else self.since.isoformat(),
            "to": None if self.until is None else self.until.isoformat(),
            "kinds": sorted(self.kinds),
            "agencies": sorted(self.agencies),
            "significant_only": self.significant_only,
            "household": self.household,
        }


def check_filters(
    since: date | None,
    until: date | None,
    kinds: str = "",
    agencies: str = "",
    significant_only: bool = False,
    household: bool = False,
) -> Filters:
    """Filters from parsed dates and comma-separated kinds and agency ids; Invalid names
    the field."""
    if since is not None and until is not None and until < since:
        raise Invalid("to must be on or after from.", field="to")
    return Filters(since, until, _kinds(kinds), _agencies(agencies), significant_only, household)


def _kinds(raw: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if unknown := chosen - ALL_KINDS:
        allowed = ", ".join(sorted(ALL_KINDS))
        raise Invalid(
            f"kinds must be some of: {allowed} (not {', '.join(sorted(unknown))}).",
            field="kinds",
        )
    return chosen


def _agencies(raw: str) -> frozenset[int]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    numbers = all(p.isascii() and p.isdigit() and len(p) <= 9 for p in parts)
    if len(parts) > MAX_AGENCIES or not numbers:
        raise Invalid(
            f"agencies must be up to {MAX_AGENCIES} agency ids, separated by commas.",
            field="agencies",
        )
    return frozenset(int(p) for p in parts)


def describe(filters: Filters, agency_names: dict[int, str]) -> str:
    """The filters line of an export, e.g. "Period: 2024-01-01 to 2024-03-31; kinds: ..."."""
    period = (
        f"{filters.since.isoformat() if filters.since else 'the beginning'} to "
        f"{filters.until.isoformat() if filters.until else 'now'}"
    )
    kinds = ", ".join(KIND_LABELS[k] for k in sorted(filters.kinds)) if filters.kinds else "all"
    named = sorted(agency_names.get(a, f"agency {a}") for a in filters.agencies)
    parts = [
        f"Period: {period}",
        f"kinds: {kinds}",
        f"agencies: {', '.join(named) if named else 'all'}",
        f"significant only: {'yes' if filters.significant_only else 'no'}",
    ]
    return "; ".join(parts)
