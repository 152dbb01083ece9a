"""Merging two records of the same child, and an administrator's undo within 30 days.

Who: an administrator, or a manager who may change both records (`check_may_manage` on
each). Both must be open; a reason is required. In one transaction everything about the
duplicate (`merged`) moves to the `survivor` (feeds/records/merge_moves.py), the duplicate
points at the survivor (`merged_into_id`: its reference finds the survivor, and the record
itself is absent to everyone, feeds/access/policy.py), one ChildMerge row keeps what moved,
and each child gets an audit record with the reason. Access comes with the moved grants:
whoever saw the duplicate sees the survivor, and nobody gains a child they could not see
one of the records of. Children in two different households are refused (unlink first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from feeds import audit, events
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Conflict, Forbidden, Invalid, NotFound
from feeds.models import Child, Professional, Role, SearchOutbox
from feeds.network.models import HouseholdMember
from feeds.network.worry_episodes import do_assess_worry
from feeds.records.authority import HIDDEN, check_may_manage
from feeds.records.children import CHILD_CHANGED
from feeds.records.merge_moves import Moved, counts, move_all, move_back, planned
from feeds.records.models import MAX_REASON, ChildMerge
from feeds.records.status import check_open
from feeds.silence.verdicts import do_recompute_silence
from feeds.velocity.tallies import rebuild_days
from feeds.velocity.verdicts import do_recompute_velocity

MIN_REASON = 10
UNDO_WINDOW = timedelta(days=30)
MERGE, PREVIEW, UNMERGE = (
    AuditAction.CHILD_MERGE,
    AuditAction.CHILD_MERGE_PREVIEW,
    AuditAction.CHILD_UNMERGE,
)
ADMINS_ONLY = "Only administrators can undo a merge."
NO_MERGE = "No such merge."


@dataclass(frozen=True)
class Pair:
    """The two records of a merge as checked: the one kept and the duplicate."""

    survivor: Child
    merged: Child


def check_reason(raw: object, field: str = "reason") -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if not MIN_REASON <= len(text) <= MAX_REASON or not text.isprintable():
        raise Invalid(
            f"Say why these records are the same child ({MIN_REASON} to {MAX_REASON} characters).",
            field=field,
        )
    return text


async def _by_reference(reference: str) -> int | None:
    """The record with this reference as typed (any case), merged or not."""
    found = await Child.filter(reference__iexact=reference.strip()).only("id").first()
    return int(found.id) if found is not None else None


async def _refuse(
    action: AuditAction,
    ctx: AuditContext,
    actor: Professional,
    child: Child,
    why: str,
    error: Exception,
) -> None:
    detail = {"why": why}
    await audit.record(
        action, ctx, actor=actor, child_id=child.id, outcome=AuditOutcome.DENIED, detail=detail
    )
    raise error


async def check_survivor(
    actor: Professional, survivor_id: int, action: AuditAction, ctx: AuditContext
) -> Child:
    """The record to keep, when `actor` may change it and it is open (refusals audited)."""
    survivor = await check_may_manage(actor, survivor_id, action, ctx)
    await check_open(survivor, action, ctx, actor)
    return survivor


async def check_duplicate(
    actor: Professional, survivor: Child, merged: int | str, action: AuditAction, ctx: AuditContext
) -> Pair:
    """Both records, when `actor` may also change the duplicate (an id, or a reference as
    typed) and the two may be merged: each refusal is one audit record (404/403/409/422)."""
    merged_id = merged if isinstance(merged, int) else await _by_reference(merged)
    if merged_id is None:
        async with audit.refusal_recorded(action, ctx, actor, None, {"reference": str(merged)}):
            raise NotFound(HIDDEN, field="merged_reference")
    if merged_id == survivor.id:
        same = Invalid("Choose the other record: a record cannot be merged into itself.")
        await _refuse(action, ctx, actor, survivor, "same record", same)
    duplicate = await check_may_manage(actor, merged_id, action, ctx)
    await check_open(duplicate, action, ctx, actor)
    await _check_households(Pair(survivor, duplicate), action, ctx, actor)
    return Pair(survivor, duplicate)


async def check_pair(
    actor: Professional, survivor_id: int, merged: int | str, action: AuditAction, ctx: AuditContext
) -> Pair:
    survivor = await check_survivor(actor, survivor_id, action, ctx)
    return await check_duplicate(actor, survivor, merged, action, ctx)


async def _check_households(
    pair: Pair, action: AuditAction, ctx: AuditContext, actor: Professional
) -> None:
    """Two different households: refused, rather than guess which the child lives in."""
    found = await HouseholdMember.filter(
        child_id__in=[pair.survivor.id, pair.merged.id]
    ).values_list("household_id", flat=True)
    if len(set(found)) > 1:
        apart = Conflict(
            "These records are in different households. Unlink one of them from its "
            "household first, then merge."
        )
        await _refuse(action, ctx, actor, pair.merged, "different households", apart)


async def do_open_merge(actor: Professional, survivor_id: int, ctx: AuditContext) -> Child:
    """The record a duplicate would be merged into (the form's first step); audited."""
    survivor = await check_survivor(actor, survivor_id, PREVIEW, ctx)
    await audit.record(PREVIEW, ctx, actor=actor, child_id=survivor.id, detail={"step": "form"})
    return survivor


async def do_preview_merge(
    actor: Professional, survivor: Child, merged: int | str, ctx: AuditContext
) -> tuple[Pair, dict[str, int]]:
    """What merging the duplicate into the (checked) survivor would move, for the
    confirmation step; audited."""
    pair = await check_duplicate(actor, survivor, merged, PREVIEW, ctx)
    found = await planned(pair.survivor, pair.merged)
    detail = {"merged_id": pair.merged.id, "counts": found}
    await audit.record(PREVIEW, ctx, actor=actor, child_id=pair.survivor.id, detail=detail)
    return pair, found


async def _queue_search(post_ids: list[int], child_id: int) -> None:
    """The moved posts are indexed again, under the child they belong to now."""
    rows = [SearchOutbox(post_id=post, child_id=child_id, op="index") for post in post_ids]
    await SearchOutbox.bulk_create(rows, batch_size=500)


async def _announce(pair: Pair, change: str) -> None:
    """Sockets re-read who may see what (grants moved), and both records changed."""
    for child in (pair.survivor, pair.merged):
        payload = {"change": change, "child_id": child.id}
        await events.emit(events.GRANT_CHANGED, payload, child_id=child.id)
        await events.emit(CHILD_CHANGED, payload, child_id=child.id)


async def _recompute(pair: Pair) -> None:
    """Velocity and silence from the recounted days (after the commit, like a sweep)."""
    ids = [pair.survivor.id, pair.merged.id]
    await do_recompute_velocity(ids)
    await do_recompute_silence(ids)


async def _record_both(
    action: AuditAction, ctx: AuditContext, actor: Professional, pair: Pair, detail: dict[str, Any]
) -> None:
    """One record on each child: each record's audit shows the merge and its reason."""
    await audit.record(action, ctx, actor=actor, child_id=pair.survivor.id, detail=detail)
    await audit.record(action, ctx, actor=actor, child_id=pair.merged.id, detail=detail)


async def do_merge_children(
    actor: Professional, survivor_id: int, merged: int | str, reason: object, ctx: AuditContext
) -> ChildMerge:
    """Merge the duplicate (an id, or a reference as typed) into the survivor."""
    pair = await check_pair(actor, survivor_id, merged, MERGE, ctx)
    why = check_reason(reason)
    now = utcnow()
    async with events.transaction():
        taken = await Child.filter(id=pair.merged.id, merged_into_id=None).update(
            merged_into_id=pair.survivor.id
        )
        if not taken:
            raise Conflict("This record was merged a moment ago.")
        moved = await move_all(pair.survivor, pair.merged, actor, now)
        merge = await ChildMerge.create(
            survivor=pair.survivor,
            merged=pair.merged,
            merged_by=actor,
            reason=why,
            at=now,
            moved=moved,
        )
        await _queue_search(moved["posts"], pair.survivor.id)
        await rebuild_days([pair.survivor.id, pair.merged.id])
        await do_assess_worry(pair.survivor.id, ctx, actor_id=actor.id, now=now)
        await _record_both(MERGE, ctx, actor, pair, _detail(merge, pair, moved))
        await _announce(pair, "merged")
    await _recompute(pair)
    return merge


def _detail(merge: ChildMerge, pair: Pair, moved: Moved) -> dict[str, Any]:
    return {
        "merge_id": merge.id,
        "survivor_id": pair.survivor.id,
        "merged_id": pair.merged.id,
        "merged_reference": pair.merged.reference,
        "reason": merge.reason,
        "moved": counts(moved),
    }


def undo_until(merge: ChildMerge) -> datetime:
    return merge.at + UNDO_WINDOW


async def _undoable(admin: Professional, merge_id: int, ctx: AuditContext) -> ChildMerge:
    merge = await ChildMerge.get_or_none(id=merge_id)
    child_id = merge.survivor_id if merge is not None else None
    async with audit.refusal_recorded(UNMERGE, ctx, admin, child_id, {"merge_id": merge_id}):
        if admin.role != Role.ADMIN or not admin.is_active:
            raise Forbidden(ADMINS_ONLY)
        if merge is None:
            raise NotFound(NO_MERGE)
    assert merge is not None
    survivor = await Child.get(id=merge.survivor_id)
    why = _not_undoable(merge, survivor)
    if why:
        detail = {"merge_id": merge.id, "why": why}
        await audit.record(
            UNMERGE, ctx, actor=admin, child_id=child_id, outcome=AuditOutcome.DENIED, detail=detail
        )
        raise Conflict(why)
    return merge


def _not_undoable(merge: ChildMerge, survivor: Child) -> str:
    """Why this merge cannot be undone now ("" when it can)."""
    if merge.undone_at is not None:
        return "This merge was undone already."
    if utcnow() >= undo_until(merge):
        return "A merge can be undone for 30 days only."
    if survivor.merged_into_id is not None:
        return "The record kept was merged into another since: undo that merge first."
    return ""


async def do_unmerge_children(
    admin: Professional, merge_id: int, reason: object, ctx: AuditContext
) -> ChildMerge:
    """Administrators, within 30 days: move exactly what moved back (posts written on the
    survivor since stay there), and the duplicate is a record of its own again."""
    merge = await _undoable(admin, merge_id, ctx)
    why = check_reason(reason)
    pair = Pair(await Child.get(id=merge.survivor_id), await Child.get(id=merge.merged_id))
    now = utcnow()
    async with events.transaction():
        done = await ChildMerge.filter(id=merge.id, undone_at__isnull=True).update(
            undone_at=now, undone_by_id=admin.id, undo_reason=why
        )
        if not done:
            raise Conflict("This merge was undone a moment ago.")
        moved: Moved = merge.moved
        lost = await move_back(pair.survivor, pair.merged, moved, merge.at)
        await Child.filter(id=pair.merged.id).update(merged_into_id=None)
        await _queue_search(moved.get("posts", []), pair.merged.id)
        await rebuild_days([pair.survivor.id, pair.merged.id])
        detail = {"merge_id": merge.id, "reason": why, "not_restored": lost}
        await _record_both(UNMERGE, ctx, admin, pair, detail)
        await _announce(pair, "unmerged")
    await _recompute(pair)
    return await ChildMerge.get(id=merge.id)


async def do_read_recent(admin: Professional, ctx: AuditContext) -> list[ChildMerge]:
    """Merges of the last 30 days, newest first (administrators; audited)."""
    async with audit.refusal_recorded(AuditAction.MERGE_LIST, ctx, admin, None):
        if admin.role != Role.ADMIN or not admin.is_active:
            raise Forbidden("Only administrators can see the merges.")
    since = utcnow() - UNDO_WINDOW
    found = await ChildMerge.filter(at__gt=since).order_by("-id").limit(200)
    await audit.record(AuditAction.MERGE_LIST, ctx, actor=admin, detail={"count": len(found)})
    return list(found)


async def survivor_of(child_id: int) -> int | None:
    """The record a merged record was merged into (None when it was not merged). Callers
    show it only to those the policy lets see the survivor."""
    found: list[Any] = await Child.filter(id=child_id).values_list("merged_into_id", flat=True)
    return int(found[0]) if found and found[0] is not None else None
