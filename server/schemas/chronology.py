"""A child's chronology and marking a post significant (feeds/chronology). Lengths and
kinds are the domain's; these types bound the text and shape it."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from feeds.chronology.filters import ALL_KINDS, MAX_AGENCIES
from feeds.chronology.models import MAX_NOTE

Day = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
Note = Annotated[str, Meta(max_length=2 * MAX_NOTE, description=f"up to {MAX_NOTE} characters")]


class ChronologyQuery(Struct):
    """The period (UTC days, both ends included) and the filters; kinds and agencies are
    comma-separated (or repeated, as a form sends them)."""

    from_: Day | None = msgspec.field(default=None, name="from")
    to: Day | None = None
    kinds: Annotated[
        str, Meta(max_length=300, description="some of: " + ", ".join(sorted(ALL_KINDS)))
    ] = ""
    agencies: Annotated[
        str, Meta(max_length=10 * MAX_AGENCIES, description="agency ids, comma-separated")
    ] = ""
    significant: bool = False
    household: bool = False  # the whole household: every linked child you may see


class ChronologyChild(Struct):
    id: int
    display_name: str
    reference: str


class ChronologyFilters(Struct):
    from_: str | None = msgspec.field(name="from")
    to: str | None
    kinds: list[str]
    agencies: list[int]
    significant_only: bool


class ChronologyEntry(Struct):
    at: str
    child_id: int
    child_reference: str
    kind: str
    person: str
    agency: str
    agency_id: int | None
    event: str
    action_taken: str
    outcome: str
    significant: bool
    post_id: int | None
    author_id: int | None


class Chronology(Struct):
    child: ChronologyChild
    filters: ChronologyFilters
    generated_at: str
    generated_by: str
    entries: list[ChronologyEntry]


class SignificanceUpdate(Struct):
    """Mark a post significant (or not), with what was done and what came of it."""

    significant: bool
    action_taken: Note = ""
    outcome: Note = ""


class SignificanceRevision(Struct):
    significant: bool
    action_taken: str
    outcome: str
    changed_at: str
    changed_by_id: int
    replaced_at: str
    replaced_by_id: int


class Significance(Struct):
    post_id: int
    significant: bool
    action_taken: str
    outcome: str
    changed_at: str
    changed_by_id: int
    revisions: list[SignificanceRevision]
