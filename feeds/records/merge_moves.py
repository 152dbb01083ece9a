"""What a merge moves from the duplicate record to the survivor, table by table, and how an
undo moves exactly that back. Runs inside the caller's transaction (feeds/records/merging.py).

`Moved` is stored on the ChildMerge row as JSON: lists of ids per table, plus the household
membership, so the undo needs nothing else. What stays on the duplicate: its own record
history (ChildRevision), its audit and live events (append-only), and what would clash with
the survivor's (a follow by the same person or team, an "agency involved" entry for an agency
already there, a last-visit marker of someone who had one on both): the survivor has its own
(a last-visit marker takes the duplicate's when that one is further on; undo puts it back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.models import Model

from feeds.access.policy import active_grant_q
from feeds.chronology.models import Significance
from feeds.models import (
    BreakGlass,
    Child,
    ChildVisit,
    Follow,
    Grant,
    Notification,
    Post,
    Professional,
)
from feeds.network.models import (
    AccessRequest,
    ChildEvent,
    HouseholdMember,
    WorryEpisode,
    WorryShare,
)

Moved = dict[str, Any]

# Tables whose rows simply change child: name in `Moved` -> model (all have `child_id`).
SIMPLE: dict[str, type[Model]] = {
    "posts": Post,
    "significances": Significance,
    "worry_shares": WorryShare,
    "worry_episodes": WorryEpisode,
    "notifications": Notification,
    "access_requests": AccessRequest,
}
COUNTED = ("posts", "grants", "follows", "child_events", "worry_shares", "notifications")


async def _ids(model: type[Model], *args: Q, **filters: Any) -> list[int]:
    rows: list[Any] = (
        await model.filter(*args, **filters).order_by("id").values_list("id", flat=True)
    )
    return [int(row) for row in rows]


async def _reassign(model: type[Model], ids: list[int], child_id: int) -> None:
    if ids:
        await model.filter(id__in=ids).update(child_id=child_id)


def _broader(a: Grant, b: Grant) -> bool:
    """True when grant `a` lasts at least as long as `b` (no expiry lasts longest)."""
    if a.expires_at is None:
        return True
    return b.expires_at is not None and a.expires_at >= b.expires_at


async def _grants(survivor: Child, merged: Child, by: Professional, now: datetime) -> Moved:
    """Every grant moves, past ones too (the history of access); where both records have a
    live grant for the same holder, the narrower of the two is revoked."""
    live = active_grant_q(now)
    kept = {(g.professional_id, g.team_id): g for g in await Grant.filter(live, child=survivor)}
    revoked: list[int] = []
    for grant in await Grant.filter(live, child=merged):
        theirs = kept.get((grant.professional_id, grant.team_id))
        if theirs is None:
            continue
        narrower = theirs if not _broader(theirs, grant) else grant
        revoked.append(narrower.id)
    if revoked:
        await Grant.filter(id__in=revoked).update(revoked_at=now, revoked_by_id=by.id)
    moved = await _ids(Grant, child_id=merged.id)
    await _reassign(Grant, moved, survivor.id)
    return {"grants": moved, "grants_revoked": sorted(revoked)}


async def _follows(survivor: Child, merged: Child) -> list[int]:
    """Follows; one by a person or team already following the survivor stays behind."""
    theirs = set(await Follow.filter(child=survivor).values_list("professional_id", "team_id"))
    found = await Follow.filter(child=merged).order_by("id")
    ids = [f.id for f in found if (f.professional_id, f.team_id) not in theirs]
    await _reassign(Follow, ids, survivor.id)
    return ids


async def _visits(survivor: Child, merged: Child) -> Moved:
    """Last-visit markers (feeds/feed/visits.py): one on the duplicate only moves; where a
    person has one on both, the survivor's takes the later of the two (the duplicate's
    stays behind) and its old value is kept for the undo."""
    theirs = {v.professional_id: v for v in await ChildVisit.filter(child=survivor)}
    moved: list[int] = []
    advanced: list[list[Any]] = []
    for mark in await ChildVisit.filter(child=merged).order_by("id"):
        kept = theirs.get(mark.professional_id)
        if kept is None:
            moved.append(mark.id)
        elif mark.last_seen_post_id > kept.last_seen_post_id:
            old = [kept.id, kept.last_seen_post_id, kept.seen_at.isoformat()]
            advanced.append([*old, mark.last_seen_post_id])
            await ChildVisit.filter(id=kept.id).update(
                last_seen_post_id=mark.last_seen_post_id, seen_at=mark.seen_at
            )
    await _reassign(ChildVisit, moved, survivor.id)
    return {"visits": moved, "visits_advanced": advanced}


async def _visits_back(merged: Child, moved: Moved) -> None:
    """Markers go back; one the merge moved forward gets its old value unless the person
    has read the survivor since (then it is theirs)."""
    await _reassign(ChildVisit, moved.get("visits", []), merged.id)
    for visit_id, post_id, seen_at, set_to in moved.get("visits_advanced", []):
        await ChildVisit.filter(id=visit_id, last_seen_post_id=set_to).update(
            last_seen_post_id=post_id, seen_at=datetime.fromisoformat(seen_at)
        )


async def _entries(survivor: Child, merged: Child) -> list[int]:
    """System entries; an agency already involved with the survivor keeps the survivor's."""
    there = await ChildEvent.filter(child=survivor, agency_id__isnull=False).values_list(
        "kind", "agency_id"
    )
    taken = {(str(kind), int(agency)) for kind, agency in there}
    ids = []
    for entry in await ChildEvent.filter(child=merged).order_by("id"):
        if entry.agency_id is None or (str(entry.kind), entry.agency_id) not in taken:
            ids.append(entry.id)
    await _reassign(ChildEvent, ids, survivor.id)
    return ids


async def _episodes_closed(survivor: Child, moved: list[int], now: datetime) -> list[int]:
    """A child has one open worry episode: the duplicate's open one ends if the survivor
    has its own (the next worry reassesses the survivor over every moved worry)."""
    if not await WorryEpisode.filter(child=survivor, closed_at__isnull=True).exists():
        return []
    ids = await _ids(WorryEpisode, id__in=moved or [0], closed_at__isnull=True)
    if ids:
        await WorryEpisode.filter(id__in=ids).update(closed_at=now)
    return ids


async def _household(survivor: Child, merged: Child) -> dict[str, Any] | None:
    """The duplicate's membership: moved to the survivor, or dropped when the survivor is
    in the same household already (a different household is refused before: 409)."""
    member = await HouseholdMember.get_or_none(child_id=merged.id)
    if member is None:
        return None
    kept = {
        "id": member.id,
        "household_id": member.household_id,
        "relationship": str(member.relationship),
        "linked_at": member.linked_at.isoformat(),
        "linked_by_id": member.linked_by_id,
    }
    if await HouseholdMember.exists(child_id=survivor.id):
        await HouseholdMember.filter(id=member.id).delete()
        return kept | {"mode": "dropped"}
    await HouseholdMember.filter(id=member.id).update(child_id=survivor.id)
    return kept | {"mode": "moved"}


async def _break_glass_ended(merged: Child, now: datetime) -> list[int]:
    """Emergency access to the duplicate ends now; it does not follow to the survivor (it
    was opened for one record) and an undo does not restore it."""
    ids = await _ids(BreakGlass, child_id=merged.id, expires_at__gt=now)
    if ids:
        await BreakGlass.filter(id__in=ids).update(expires_at=now)
    return ids


async def move_all(survivor: Child, merged: Child, by: Professional, now: datetime) -> Moved:
    """Move everything about the duplicate to the survivor; what moved, by table."""
    moved: Moved = {}
    for name, model in SIMPLE.items():
        moved[name] = await _ids(model, child_id=merged.id)
    moved["episodes_closed"] = await _episodes_closed(survivor, moved["worry_episodes"], now)
    for name, model in SIMPLE.items():
        await _reassign(model, moved[name], survivor.id)
    moved |= await _grants(survivor, merged, by, now)
    moved["follows"] = await _follows(survivor, merged)
    moved["child_events"] = await _entries(survivor, merged)
    moved |= await _visits(survivor, merged)
    moved["household"] = await _household(survivor, merged)
    moved["break_glass_ended"] = await _break_glass_ended(merged, now)
    # Records merged into the duplicate earlier now point at the survivor: one hop, always.
    moved["repointed"] = await _ids(Child, merged_into_id=merged.id)
    if moved["repointed"]:
        await Child.filter(id__in=moved["repointed"]).update(merged_into_id=survivor.id)
    return moved


async def _household_back(merged: Child, survivor: Child, kept: dict[str, Any]) -> bool:
    """The duplicate's membership as it was; False when the household changed since."""
    if await HouseholdMember.exists(child_id=merged.id):
        return False
    if kept["mode"] == "moved":
        changed = await HouseholdMember.filter(
            id=kept["id"], child_id=survivor.id, household_id=kept["household_id"]
        ).update(child_id=merged.id)
        return bool(changed)
    if not await HouseholdMember.exists(household_id=kept["household_id"]):
        return False
    await HouseholdMember.create(
        household_id=kept["household_id"],
        child_id=merged.id,
        relationship=kept["relationship"],
        linked_at=datetime.fromisoformat(kept["linked_at"]),
        linked_by_id=kept["linked_by_id"],
    )
    return True


async def move_back(survivor: Child, merged: Child, moved: Moved, at: datetime) -> list[str]:
    """Undo `move_all`: what moved goes back to the duplicate (what was added to the
    survivor since stays there); what could not be restored, by name."""
    for name, model in SIMPLE.items():
        await _reassign(model, moved.get(name, []), merged.id)
    if moved.get("episodes_closed"):
        await WorryEpisode.filter(id__in=moved["episodes_closed"], closed_at=at).update(
            closed_at=None
        )
    await _reassign(Grant, moved.get("grants", []), merged.id)
    if moved.get("grants_revoked"):
        await Grant.filter(id__in=moved["grants_revoked"], revoked_at=at).update(
            revoked_at=None, revoked_by_id=None
        )
    await _reassign(Follow, moved.get("follows", []), merged.id)
    await _reassign(ChildEvent, moved.get("child_events", []), merged.id)
    await _visits_back(merged, moved)
    if moved.get("repointed"):
        await Child.filter(id__in=moved["repointed"]).update(merged_into_id=merged.id)
    kept = moved.get("household")
    if kept is not None and not await _household_back(merged, survivor, kept):
        return ["household"]
    return []


def counts(moved: Moved) -> dict[str, int]:
    """How many rows of each kind moved (what the confirmation page and the API show)."""
    found = {name: len(moved.get(name) or []) for name in COUNTED}
    found["household"] = 1 if moved.get("household") else 0
    return found


async def planned(survivor: Child, merged: Child) -> dict[str, int]:
    """What a merge would move now, counted without moving anything."""
    return {
        "posts": await Post.filter(child=merged).count(),
        "grants": await Grant.filter(child=merged).count(),
        "follows": await Follow.filter(child=merged).count(),
        "child_events": await ChildEvent.filter(child=merged).count(),
        "worry_shares": await WorryShare.filter(child_id=merged.id).count(),
        "notifications": await Notification.filter(child_id=merged.id).count(),
        "household": int(await HouseholdMember.exists(child_id=merged.id)),
    }
