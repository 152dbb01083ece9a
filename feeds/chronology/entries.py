"""One line of a chronology, whatever its source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

SYSTEM_SOURCE = "Jigsaw"  # who an entry is from when no person did it (an expiry, a flag)


@dataclass(frozen=True)
class Entry:
    """date | source (person, agency) | event | action taken | outcome."""

    at: datetime
    child_id: int
    kind: str  # a PostKind or SystemKind value (feeds/chronology/filters.py)
    event: str
    person: str = SYSTEM_SOURCE
    agency: str = ""
    agency_id: int | None = None
    action_taken: str = ""
    outcome: str = ""
    significant: bool = False
    post_id: int | None = None
    author_id: int | None = None  # a post's author (who may mark it significant)
    order: int = 0  # breaks ties between entries of the same instant (source, then id)

    @property
    def source(self) -> str:
        return f"{self.person}, {self.agency}" if self.agency else self.person


def person_of(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Person, agency and agency id from a values() row with `prefix__name` and
    `prefix__agency__name`/`prefix__agency_id` (the system when there is none)."""
    name = row.get(f"{prefix}__name")
    if name is None:
        return {"person": SYSTEM_SOURCE, "agency": "", "agency_id": None}
    return {
        "person": str(name),
        "agency": str(row.get(f"{prefix}__agency__name") or ""),
        "agency_id": row.get(f"{prefix}__agency_id"),
    }


def entry_view(entry: Entry, references: dict[int, str]) -> dict[str, Any]:
    """JSON-safe, for the API and the page."""
    return {
        "at": entry.at.isoformat(),
        "child_id": entry.child_id,
        "child_reference": references.get(entry.child_id, ""),
        "kind": entry.kind,
        "person": entry.person,
        "agency": entry.agency,
        "agency_id": entry.agency_id,
        "event": entry.event,
        "action_taken": entry.action_taken,
        "outcome": entry.outcome,
        "significant": entry.significant,
        "post_id": entry.post_id,
        "author_id": entry.author_id,
    }
