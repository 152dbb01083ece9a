"""Who may see who a child is: the one home of the shielding rule (issue 17 part 3).

A shielded child (a family in a refuge, an adoption in progress) keeps its name and
reference for the people holding a direct personal grant (`rules.IDENTIFYING`, the lead
through their own grant). Everyone else with access (team grants, managers, break-glass,
administrators) sees "Shielded child #<id>", with no reference, date of birth, school or
area; those without access see nothing at all, as before (the policy's NotFound).

Every place that shows a child to someone goes through `as_seen_by` (many children, two
queries at most), `seen_child` (one), or `as_seen_with` (standings already in hand); lists
sort by the name as seen (`by_shown_name`), so a label's place says nothing of the name.
Post text is shown through a `Redactor` (`redactor`): a direct grant may write the child's
name in a post, and whoever sees the label reads "[name withheld]" there instead (the
stored text is untouched).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NoReturn

from feeds import raw_sql
from feeds.access.policy import UNIDENTIFIED_SHIELDED_SQL, active_grant_q
from feeds.access.redaction import AS_WRITTEN, WITHHELD, Redactor, hiding, name_tokens
from feeds.access.rules import Standing, sees_identity
from feeds.clock import utcnow
from feeds.models import Child, Grant, Professional

SHIELDED = "Shielded child"
__all__ = ["AS_WRITTEN", "WITHHELD", "Redactor", "name_tokens"]  # from feeds.access.redaction


def label(child_id: int) -> str:
    """What stands for a shielded child's name: stable, and naming nothing but its id
    (already in every link to it)."""
    return f"{SHIELDED} #{child_id}"


def is_label(child: Child) -> bool:
    """True for a child shown by its label (a disguised copy)."""
    return child.reference == "" and child.display_name == label(child.id)


def is_shielded(child: Child) -> bool:
    return child.shielded_at is not None


async def _refuse_save(*_: Any, **__: Any) -> NoReturn:
    raise RuntimeError("A disguised child is for showing, never for saving.")


def disguised(child: Child) -> Child:
    """A copy of the child showing no identifier; the record itself is untouched (and the
    copy refuses to be saved, so a label can never overwrite a name)."""
    shown = copy.copy(child)
    shown.display_name, shown.reference = label(child.id), ""
    shown.date_of_birth, shown.school, shown.area = None, "", ""
    shown.shield_reason = ""
    object.__setattr__(shown, "save", _refuse_save)
    return shown


def as_seen_with(child: Child, standings: frozenset[Standing] | set[Standing]) -> Child:
    """The child as someone with these standings around it sees it."""
    return child if sees_identity(standings, is_shielded(child)) else disguised(child)


async def _direct_grant_ids(
    viewer: Professional, child_ids: Iterable[int], now: datetime | None = None
) -> set[int]:
    """Of these children, those the viewer holds a live direct grant on (the ORM form of
    the policy's DIRECT_GRANT arm; both use the one active-grant rule)."""
    ids = sorted(set(child_ids))
    if not ids or not viewer.is_active:
        return set()
    live = Grant.filter(active_grant_q(now or utcnow()), professional_id=viewer.id)
    found = await live.filter(child_id__in=ids).values("child_id")
    return {int(row["child_id"]) for row in found}


async def identified_ids(viewer: Professional, child_ids: Iterable[int]) -> set[int]:
    """Of these children, those whose name and reference the viewer may see (one query,
    two when some are shielded)."""
    ids = set(child_ids)
    found = await Child.filter(id__in=sorted(ids), shielded_at__isnull=False).values("id")
    return ids - await unidentified(viewer, {int(row["id"]) for row in found})


async def unidentified(viewer: Professional, shielded_ids: Iterable[int]) -> set[int]:
    """Of these shielded children, those whose name and reference the viewer may not see
    (no query when there are none)."""
    shielded = set(shielded_ids)
    return shielded - await _direct_grant_ids(viewer, shielded) if shielded else set()


async def as_seen_by(viewer: Professional, children: Sequence[Child]) -> list[Child]:
    """These children as the viewer sees them, in the same order (no query when none is
    shielded)."""
    shielded = [c.id for c in children if is_shielded(c)]
    direct = await _direct_grant_ids(viewer, shielded) if shielded else set()
    return [
        disguised(c) if is_shielded(c) and c.id not in direct else c
        for c in children  # keep order
    ]


async def seen_child(viewer: Professional, child: Child) -> Child:
    """One child as the viewer sees it."""
    return (await as_seen_by(viewer, [child]))[0]


async def shown_names(viewer: Professional, children: Sequence[Child]) -> dict[int, str]:
    """Each child's name as the viewer sees it, by id (for lists of posts and notes)."""
    return {c.id: c.display_name for c in await as_seen_by(viewer, children)}


async def shown_children(viewer: Professional, children: Sequence[Child]) -> list[Child]:
    """`as_seen_by`, sorted by the name as seen (`by_shown_name`)."""
    return sorted(await as_seen_by(viewer, children), key=by_shown_name)


def by_shown_name(child: Child) -> tuple[bool, str, int]:
    """The sort key of a child in a list by name, from the child *as seen*: named
    children by name, then labels by id, so a label's place says nothing of the name."""
    return name_key(child.id, child.display_name)


def name_key(child_id: int, shown_name: str) -> tuple[bool, str, int]:
    """`by_shown_name` for a name already as seen (board rows, "My children")."""
    labelled = shown_name == label(child_id)
    return (labelled, "" if labelled else shown_name.lower(), child_id)


# --- names in post text (feeds/access/redaction.py does the text work) ------------------


async def shielded_names() -> Redactor:
    """A redactor hiding every shielded child, whoever looks (one query: shields are rare,
    and `child_shielded` indexes them); `except_for` a viewer's direct grants gives that
    viewer's."""
    return _hiding(await Child.filter(shielded_at__isnull=False).values(*_NAMED))


async def redactor(viewer: Professional, child_ids: Iterable[int]) -> Redactor:
    """How the viewer reads post text on these children: the name of every shielded child
    it does not identify is withheld, whichever child the text was written about (a
    sibling's feed too). One query (none when there is nothing to read)."""
    if not any(True for _ in child_ids):
        return AS_WRITTEN
    return await reasons_redactor(viewer)


async def reasons_redactor(viewer: Professional) -> Redactor:
    """How the viewer reads free text that may name any child: reasons (break-glass, a
    request to join and its refusal, shielding, a merge, an import) and audit details. As
    post text: every shielded child the viewer does not identify is withheld. One query."""
    if not viewer.is_active:
        return _hiding(await Child.filter(shielded_at__isnull=False).values(*_NAMED))
    # Hand-written (a feed read's hottest statement after the page itself: the ORM's query
    # building cost a fifth of the read's CPU), from the policy's own identifying arms.
    rows = await raw_sql.fetch(UNIDENTIFIED_SHIELDED_SQL, utcnow(), viewer.id)
    return _hiding([dict(zip(_NAMED, row, strict=True)) for row in rows])


_NAMED = ("id", "display_name", "reference")


def _hiding(rows: list[dict[str, Any]]) -> Redactor:
    found = sorted((int(r["id"]), str(r["display_name"]), str(r["reference"])) for r in rows)
    return hiding(tuple(found)) if found else AS_WRITTEN


async def direct_grant_ids(viewer: Professional) -> set[int]:
    """Every child the viewer holds a live direct grant on (few: personal grants)."""
    if not viewer.is_active:
        return set()
    live = Grant.filter(active_grant_q(utcnow()), professional_id=viewer.id)
    return {int(row["child_id"]) for row in await live.values("child_id")}
