"""Reading a child's chronology and exporting it: access through the policy (VIEW to read,
EXPORT to take it away), one audit record per decision; an export's record carries its
filters and the SHA-256 of the file."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from feeds import audit, replica
from feeds.access import identity
from feeds.access.policy import Action, check_child_access, may
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.chronology import sources
from feeds.chronology.entries import Entry
from feeds.chronology.filters import SIGNIFICANT_KINDS, Filters
from feeds.chronology.render_csv import render_csv
from feeds.chronology.render_pdf import render_pdf
from feeds.clock import utcnow
from feeds.errors import Invalid
from feeds.models import Agency, Child, Professional
from feeds.network.households import family_for

MAX_ENTRIES = 10_000
TOO_MANY = f"More than {MAX_ENTRIES:,} entries: choose a shorter period or fewer kinds."
READ, EXPORT = AuditAction.CHRONOLOGY_READ, AuditAction.CHRONOLOGY_EXPORT


class Format(StrEnum):
    CSV = "csv"
    PDF = "pdf"


MEDIA_TYPES = {Format.CSV: "text/csv; charset=utf-8", Format.PDF: "application/pdf"}


@dataclass(frozen=True)
class Chronology:
    """What the page, the API and the exports show (the header of a case-conference copy)."""

    children: list[Child]
    filters: Filters
    entries: list[Entry]
    generated_at: datetime
    generated_by: str  # "Name, Agency"
    agency_names: dict[int, str]  # every agency the filters name or an entry comes from


@dataclass(frozen=True)
class Export:
    content: bytes
    filename: str
    media_type: str
    sha256: str


async def gather(child_ids: list[int], filters: Filters, now: datetime) -> list[Entry]:
    """Every source's entries for these children under the filters, oldest first, read
    from the hot standby when it may serve (feeds/replica.py: within the staleness bound
    and past the reader's own writes), else from the primary. No access check: callers
    check the viewer first, on the primary."""
    return await replica.read_with(lambda db: _gather_on(db, child_ids, filters, now))


async def _gather_on(
    db: BaseDBAsyncClient, child_ids: list[int], filters: Filters, now: datetime
) -> list[Entry]:
    wanted = [s for s in sources.SOURCES if filters.wants_any(s.kinds)]
    found = await asyncio.gather(*(s.fetch(db, child_ids, filters, now) for s in wanted))
    ranks = {source.name: n for n, source in enumerate(wanted)}
    kept = [
        (entry, ranks[source.name])
        for source, entries in zip(wanted, found, strict=True)
        for entry in entries
        if _kept(entry, filters)
    ]
    kept.sort(key=lambda pair: (pair[0].at, pair[1], pair[0].order))
    return [entry for entry, _ in kept]


def _kept(entry: Entry, filters: Filters) -> bool:
    if not filters.wants(entry.kind):
        return False
    if filters.significant_only and not (entry.significant or entry.kind in SIGNIFICANT_KINDS):
        return False
    if filters.agencies and entry.agency_id not in filters.agencies:
        return False
    if filters.start is not None and entry.at < filters.start:
        return False
    return filters.end is None or entry.at < filters.end


async def _scope(
    viewer: Professional, child: Child, filters: Filters, action: Action
) -> list[Child]:
    """The child, or with `filters.household` every child of its household the viewer may
    `action` (the asked-for child first): a hidden sibling never joins, so nothing of it is
    read, shown or exported."""
    family = await family_for(viewer, child.id) if filters.household else None
    if family is None:
        return [child]
    others = [m.child for m in family.members if m.child.id != child.id]
    return [child, *[c for c in others if await may(viewer, action, c)]]


async def _chronology(viewer: Professional, children: list[Child], filters: Filters) -> Chronology:
    now = utcnow()
    entries = await gather([c.id for c in children], filters, now)
    if len(entries) > MAX_ENTRIES:
        raise Invalid(TOO_MANY, field="from")
    wanted = set(filters.agencies) | {e.agency_id for e in entries if e.agency_id is not None}
    names = dict(await Agency.filter(id__in=sorted(wanted)).values_list("id", "name"))
    mine = await Agency.filter(id=viewer.agency_id).values_list("name", flat=True)
    by = ", ".join([viewer.name, *map(str, mine)])
    shown = [await identity.seen_child(viewer, c) for c in children]  # shielded: labels
    redact = await identity.redactor(viewer, [c.id for c in children])
    return Chronology(shown, filters, _read_as(entries, redact), now, by, names)


def _read_as(entries: list[Entry], redact: identity.Redactor) -> list[Entry]:
    """The entries' free text (post, action taken, outcome) as the viewer may read it: the
    name of a shielded child the viewer does not identify is withheld, in every child's
    entries (a sibling's post may name it)."""
    if not redact.hidden:
        return entries
    return [
        replace(
            e,
            event=redact(e.event),
            action_taken=redact(e.action_taken),
            outcome=redact(e.outcome),
        )
        for e in entries
    ]


async def do_read(
    viewer: Professional, child_id: int, filters: Filters, ctx: AuditContext
) -> Chronology:
    """The child's chronology for the page and the API (VIEW), audited with its filters."""
    detail: dict[str, Any] = {"filters": filters.as_detail()}
    async with audit.refusal_recorded(READ, ctx, viewer, child_id, detail):
        child = await check_child_access(viewer, child_id, Action.VIEW)
    found = await _refused_when_too_big(READ, viewer, child, filters, ctx, Action.VIEW)
    detail["entries"] = len(found.entries)
    await _record_each(READ, viewer, found, detail, ctx)
    return found


async def _record_each(
    action: AuditAction,
    viewer: Professional,
    found: Chronology,
    detail: dict[str, Any],
    ctx: AuditContext,
) -> None:
    """One record for each child whose record the chronology shows (the asked-for first)."""
    through = found.children[0].id
    for child in found.children:
        extra = {} if child.id == through else {"through": through}
        await audit.record(action, ctx, actor=viewer, child_id=child.id, detail=detail | extra)


async def _refused_when_too_big(
    action: AuditAction,
    viewer: Professional,
    child: Child,
    filters: Filters,
    ctx: AuditContext,
    permission: Action,
) -> Chronology:
    try:
        return await _chronology(viewer, await _scope(viewer, child, filters, permission), filters)
    except Invalid:
        detail = {"filters": filters.as_detail(), "why": "too many entries"}
        outcome = AuditOutcome.DENIED
        await audit.record(
            action, ctx, actor=viewer, child_id=child.id, outcome=outcome, detail=detail
        )
        raise


RENDERERS: dict[Format, Callable[[Chronology], bytes]] = {
    Format.CSV: render_csv,
    Format.PDF: render_pdf,
}


async def do_export(
    viewer: Professional, child_id: int, filters: Filters, kind: Format, ctx: AuditContext
) -> Export:
    """The chronology as a file (EXPORT: never emergency access), rendered off the event
    loop, audited with its filters, entry count and the SHA-256 of the file."""
    detail: dict[str, Any] = {"format": kind.value, "filters": filters.as_detail()}
    async with audit.refusal_recorded(EXPORT, ctx, viewer, child_id, detail):
        child = await check_child_access(viewer, child_id, Action.EXPORT)
    found = await _refused_when_too_big(EXPORT, viewer, child, filters, ctx, Action.EXPORT)
    content = await asyncio.to_thread(RENDERERS[kind], found)
    digest = hashlib.sha256(content).hexdigest()
    detail |= {"entries": len(found.entries), "sha256": digest, "bytes": len(content)}
    await _record_each(EXPORT, viewer, found, detail, ctx)
    named = household_filename if filters.household else _one_child_filename
    return Export(content, named(found, kind), MEDIA_TYPES[kind], digest)


def _one_child_filename(found: Chronology, kind: Format) -> str:
    return filename_for(found.children[0], found.generated_at, kind)


def filename_for(child: Child, at: datetime, kind: Format) -> str:
    """e.g. chronology-T-000123-2024-05-01.pdf (only letters, digits, - and _)."""
    reference = re.sub(r"[^A-Za-z0-9_-]+", "-", child.reference).strip("-") or str(child.id)
    return f"chronology-{reference}-{at.date().isoformat()}.{kind.value}"


def household_filename(found: Chronology, kind: Format) -> str:
    """A household's export is named by the child asked through, marked as the family's."""
    name = filename_for(found.children[0], found.generated_at, kind)
    return name.replace("chronology-", "chronology-household-", 1)
