"""Where a chronology's entries come from: a list of small sources, each reading one kind
of thing that happened to the children asked for. Households and shared worry add theirs
with `register` (and a `SystemKind` member); nothing else changes.

Sources do no access checks: `feeds.chronology.reading` checks the viewer first, and
gives every source the one database client to read (`db`: the hot standby when it may
serve, else the primary; feeds/replica.py), so they all read one server. Each may
pre-filter by the filters (posts do, in SQL); the reader applies the period, kinds and
agencies to every entry afterwards, so a source that does not is still right.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from feeds.audit.actions import AuditAction
from feeds.chronology.entries import Entry, person_of
from feeds.chronology.filters import Filters, SystemKind
from feeds.chronology.models import Significance
from feeds.kinds import PostKind
from feeds.models import AuditRecord, BreakGlass, Grant, Post
from feeds.network.involvement import entry_text
from feeds.network.models import AccessRequest, ChildEvent, EntryKind, WorryEpisode

Fetch = Callable[[BaseDBAsyncClient, list[int], Filters, datetime], Awaitable[list[Entry]]]


@dataclass(frozen=True)
class Source:
    name: str
    kinds: frozenset[str]  # the entry kinds it yields (a source nobody asked for is skipped)
    fetch: Fetch


SOURCES: list[Source] = []


def register(name: str, kinds: frozenset[str]) -> Callable[[Fetch], Fetch]:
    """Add a source to every chronology (a decorator)."""

    def add(fetch: Fetch) -> Fetch:
        SOURCES.append(Source(name, kinds, fetch))
        return fetch

    return add


POST_KINDS = frozenset(kind.value for kind in PostKind)
_PERSON = ("__name", "__agency_id", "__agency__name")


def _person_fields(prefix: str) -> list[str]:
    return [prefix + suffix for suffix in _PERSON]


@register("posts", POST_KINDS)
async def posts(
    db: BaseDBAsyncClient, child_ids: list[int], filters: Filters, now: datetime
) -> list[Entry]:
    """The children's posts (not removed), with their significance, action and outcome."""
    marks = {
        row["post_id"]: row
        for row in await Significance.filter(child_id__in=child_ids)
        .using_db(db)
        .values("post_id", "significant", "action_taken", "outcome")
    }
    query = Post.filter(
        child_id__in=child_ids,
        removed_at__isnull=True,
        kind__in=[kind for kind in POST_KINDS if filters.wants(kind)],
    )
    if filters.significant_only:
        query = query.filter(id__in=[p for p, row in marks.items() if row["significant"]] or [0])
    if filters.start is not None:
        query = query.filter(created_at__gte=filters.start)
    if filters.end is not None:
        query = query.filter(created_at__lt=filters.end)
    if filters.agencies:
        query = query.filter(author__agency_id__in=sorted(filters.agencies))
    rows = await query.using_db(db).values(
        "id", "child_id", "kind", "body", "created_at", "author_id", *_person_fields("author")
    )
    return [_post_entry(row, marks.get(row["id"])) for row in rows]


def _post_entry(row: dict[str, Any], mark: dict[str, Any] | None) -> Entry:
    significant = bool(mark and mark["significant"])
    return Entry(
        at=row["created_at"],
        child_id=row["child_id"],
        kind=str(row["kind"]),
        event=f"{str(row['kind']).capitalize()}: {row['body']}",
        **person_of(row, "author"),
        action_taken=mark["action_taken"] if mark else "",
        outcome=mark["outcome"] if mark else "",
        significant=significant,
        post_id=row["id"],
        author_id=row["author_id"],
        order=row["id"],
    )


@register("access", frozenset({SystemKind.ACCESS}))
async def access(
    db: BaseDBAsyncClient, child_ids: list[int], filters: Filters, now: datetime
) -> list[Entry]:
    """Access granted, expired and revoked (from grants), and asked for (requests to join)."""
    grants = await Grant.filter(child_id__in=child_ids).using_db(db).values(
        "id", "child_id", "created_at", "expires_at", "revoked_at",
        "professional__name", "professional__agency__name", "team__name", "team__agency__name",
        *_person_fields("granted_by"), *_person_fields("revoked_by"),
    )  # fmt: skip
    found = [entry for row in grants for entry in _grant_entries(row, now)]
    asked = (
        await AccessRequest.filter(child_id__in=child_ids)
        .using_db(db)
        .values("id", "child_id", "created_at", "role", *_person_fields("requester"))
    )
    for row in asked:
        who = person_of(row, "requester")
        found.append(
            Entry(
                at=row["created_at"],
                child_id=row["child_id"],
                kind=SystemKind.ACCESS,
                event=f"Asked to join the child's network as {row['role']}",
                **who,
                order=row["id"],
            )
        )
    return found


def _holder(row: dict[str, Any]) -> str:
    if row.get("professional__name"):
        return f"{row['professional__name']} ({row['professional__agency__name']})"
    return f"team {row['team__name']} ({row['team__agency__name']})"


def _grant_entries(row: dict[str, Any], now: datetime) -> list[Entry]:
    holder, base = _holder(row), {"child_id": row["child_id"], "kind": SystemKind.ACCESS}
    made = [
        Entry(
            at=row["created_at"],
            event=f"Access granted to {holder}",
            **person_of(row, "granted_by"),
            order=row["id"],
            **base,
        )
    ]
    revoked, expires = row["revoked_at"], row["expires_at"]
    if expires is not None and expires <= now and (revoked is None or revoked > expires):
        ended = f"Access for {holder} expired"
        made.append(Entry(at=expires, event=ended, order=row["id"], **base))
    elif revoked is not None:
        who = person_of(row, "revoked_by")
        made.append(
            Entry(at=revoked, event=f"Access for {holder} revoked", **who, order=row["id"], **base)
        )
    return made


@register("break_glass", frozenset({SystemKind.BREAK_GLASS}))
async def break_glass(
    db: BaseDBAsyncClient, child_ids: list[int], filters: Filters, now: datetime
) -> list[Entry]:
    """Emergency access opened, with the reason given."""
    rows = (
        await BreakGlass.filter(child_id__in=child_ids)
        .using_db(db)
        .values("id", "child_id", "started_at", "reason", *_person_fields("professional"))
    )
    return [
        Entry(
            at=row["started_at"],
            child_id=row["child_id"],
            kind=SystemKind.BREAK_GLASS,
            event=f"Emergency access opened: {row['reason']}",
            **person_of(row, "professional"),
            order=row["id"],
        )
        for row in rows
    ]


FLAG_ACTIONS = (AuditAction.VELOCITY_CHANGED, AuditAction.SILENCE_CHANGED)


@register("flags", frozenset({SystemKind.FLAG}))
async def flags(
    db: BaseDBAsyncClient, child_ids: list[int], filters: Filters, now: datetime
) -> list[Entry]:
    """Flags raised and cleared: each flip is audited once (feeds/velocity, feeds/silence)."""
    rows = (
        await AuditRecord.filter(child_id__in=child_ids, action__in=FLAG_ACTIONS)
        .using_db(db)
        .values("id", "child_id", "at", "action", "detail")
    )
    return [
        Entry(
            at=row["at"],
            child_id=row["child_id"],
            kind=SystemKind.FLAG,
            event=_flag_text(str(row["action"]), row["detail"] or {}),
            order=int(row["id"]),
        )
        for row in rows
    ]


def _flag_text(action: str, detail: dict[str, Any]) -> str:
    raised = bool(detail.get("flagged"))
    if action == AuditAction.SILENCE_CHANGED:
        agencies = ", ".join(str(a) for a in detail.get("agencies") or [])
        if raised:
            return f"Flagged: gone quiet ({agencies})" if agencies else "Flagged: gone quiet"
        return "Gone-quiet flag cleared"
    return "Flagged: unusual attention" if raised else "Attention flag cleared"


HOUSEHOLD_ENTRIES = (
    EntryKind.HOUSEHOLD_JOINED,
    EntryKind.HOUSEHOLD_LEFT,
    EntryKind.SIBLING_JOINED,
    EntryKind.SIBLING_LEFT,
)


@register("households", frozenset({SystemKind.HOUSEHOLD}))
async def households(
    db: BaseDBAsyncClient, child_ids: list[int], filters: Filters, now: datetime
) -> list[Entry]:
    """Linked into or out of a household; the entries never name the other child."""
    found = await ChildEvent.filter(child_id__in=child_ids, kind__in=HOUSEHOLD_ENTRIES).using_db(db)
    return [
        Entry(
            at=event.created_at,
            child_id=event.child_id,
            kind=SystemKind.HOUSEHOLD,
            event=entry_text(event),
            order=event.id,
        )
        for event in found
    ]


@register("worry", frozenset({SystemKind.WORRY}))
async def worry(
    db: BaseDBAsyncClient, child_ids: list[int], filters: Filters, now: datetime
) -> list[Entry]:
    """A shared-worry episode opened: the lead and the managers were prompted."""
    rows = (
        await WorryEpisode.filter(child_id__in=child_ids)
        .using_db(db)
        .values("id", "child_id", "opened_at", "professionals", "agencies")
    )
    return [
        Entry(
            at=row["opened_at"],
            child_id=row["child_id"],
            kind=SystemKind.WORRY,
            event=(
                f"Shared worry: {row['professionals']} professionals from {row['agencies']} "
                "agencies; the lead and managers were prompted to consider a strategy "
                "discussion"
            ),
            order=row["id"],
        )
        for row in rows
    ]


@register("agencies", frozenset({SystemKind.AGENCY}))
async def agencies(
    db: BaseDBAsyncClient, child_ids: list[int], filters: Filters, now: datetime
) -> list[Entry]:
    """A new agency around the child (feeds/network/involvement.py)."""
    found = (
        await ChildEvent.filter(child_id__in=child_ids, kind=EntryKind.AGENCY_INVOLVED)
        .using_db(db)
        .select_related("agency")
    )
    return [
        Entry(
            at=event.created_at,
            child_id=event.child_id,
            kind=SystemKind.AGENCY,
            event=entry_text(event),
            agency_id=event.agency_id,  # filtered by it; the source is the system
            order=event.id,
        )
        for event in found
    ]
