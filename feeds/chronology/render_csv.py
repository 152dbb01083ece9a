"""A chronology as CSV: one row per entry, the columns of the PDF plus what a spreadsheet
needs to sort and filter. Formula-looking cells are prefixed so they stay text."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from feeds.chronology.filters import KIND_LABELS

if TYPE_CHECKING:
    from feeds.chronology.reading import Chronology

COLUMNS = (
    "date",
    "child_reference",
    "kind",
    "source_person",
    "source_agency",
    "event",
    "action_taken",
    "outcome",
    "significant",
)


def render_csv(chronology: Chronology) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read names with accents."""
    references = {child.id: child.reference for child in chronology.children}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for e in chronology.entries:
        row = (
            e.at.isoformat(timespec="minutes"),
            references.get(e.child_id, ""),
            KIND_LABELS.get(e.kind, e.kind),
            e.person,
            e.agency,
            e.event,
            e.action_taken,
            e.outcome,
            "yes" if e.significant else "",
        )
        writer.writerow([_cell(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
