"""The shared-worry threshold, as a pure function of the worries about one child.

A worry is a professional raising one (the author of a post of a `WORRY_KINDS` kind) or
sharing one ("I share this worry"). The threshold is met when, within the last `WINDOW`,
at least `MIN_PROFESSIONALS` different professionals from at least `MIN_AGENCIES`
different agencies have raised or shared a worry. Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(days=14)
MIN_PROFESSIONALS = 3
MIN_AGENCIES = 2
MAX_NOTE = 200  # characters in the optional note of a share (trimmed)


@dataclass(frozen=True)
class Worry:
    at: datetime
    professional_id: int
    agency_id: int


@dataclass(frozen=True)
class WorryCount:
    professionals: int
    agencies: int
    met: bool
    holds_until: datetime | None  # when it stops being met if no new worry comes


def _counts(worries: Sequence[Worry]) -> tuple[int, int]:
    return len({w.professional_id for w in worries}), len({w.agency_id for w in worries})


def meets(worries: Sequence[Worry]) -> bool:
    people, agencies = _counts(worries)
    return people >= MIN_PROFESSIONALS and agencies >= MIN_AGENCIES


def in_window(worries: Sequence[Worry], now: datetime) -> list[Worry]:
    """The worries that count at `now` (after now - WINDOW, none in the future), oldest first."""
    return sorted((w for w in worries if now - WINDOW < w.at <= now), key=lambda w: w.at)


def assess(worries: Sequence[Worry], now: datetime) -> WorryCount:
    """Whether the threshold is met at `now`, and until when it holds without new worries
    (each worry stops counting WINDOW after it was raised or shared, oldest first)."""
    counted = in_window(worries, now)
    people, agencies = _counts(counted)
    if not meets(counted):
        return WorryCount(people, agencies, False, None)
    until = counted[-1].at + WINDOW
    for i, worry in enumerate(counted):
        if not meets(counted[i + 1 :]):
            until = worry.at + WINDOW
            break
    return WorryCount(people, agencies, True, until)


def reason(count: WorryCount) -> str:
    """The board's reason: "Shared worry: 5 professionals from 3 agencies"."""
    return f"Shared worry: {count.professionals} professionals from {count.agencies} agencies"
