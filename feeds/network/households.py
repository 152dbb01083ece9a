"""Households: children linked as siblings or as sharing a home, and the family they form.

Who may link or unlink a child: whoever the policy lets link children (`Action.LINK_CHILDREN`:
its lead professional, the managers of the teams around it), and administrators, who act
on records without seeing them. Linking names a child of the household to join, which the
linker must see; a child not yet in a household starts a new one with it, and is linked too.

A family is read through one child the viewer may see. It shows the linked children the
viewer may see; every other one is only a slot ("another child in this household whom you
cannot see"), never a name, reference, post, count or verdict. A slot can be asked for:
the request to join is stored against the child without the asker ever learning its
reference (`requests.do_request_unseen`).

Every link and unlink is audited (one record per child whose household changed) and puts
a system entry in each affected child's feed, naming no other child.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from feeds import audit, events
from feeds.access import identity
from feeds.access.policy import CHILD_NOT_FOUND, Action, check_child_access, child_and_standings
from feeds.access.rules import allows
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Conflict, Invalid, NotFound
from feeds.kinds import WORRY_KINDS
from feeds.models import Child, Post, Professional, Role
from feeds.network import requests
from feeds.network.models import ChildEvent, EntryKind, Household, HouseholdMember, Relationship
from feeds.velocity.board import BoardRow, build_board

HIDDEN_TEXT = "Another child in this household whom you cannot see"
NO_SLOT = "No such child in this household."
TIMELINE = 30  # posts in the combined timeline
CONCERN_DAYS = 30  # how far back the family's concerns reach

LINK, UNLINK, READ = (
    AuditAction.HOUSEHOLD_LINK,
    AuditAction.HOUSEHOLD_UNLINK,
    AuditAction.HOUSEHOLD_READ,
)


@dataclass(frozen=True)
class Member:
    """A linked child the viewer may see."""

    slot: int
    child: Child
    relationship: Relationship


@dataclass(frozen=True)
class Family:
    """A household as one viewer sees it: `hidden` holds only the slots of the others."""

    household_id: int
    members: list[Member]
    hidden: list[int]

    @property
    def child_ids(self) -> list[int]:
        return [member.child.id for member in self.members]


def check_relationship(raw: object) -> Relationship:
    try:
        return Relationship(str(raw))
    except ValueError:
        choices = ", ".join(r.value for r in Relationship)
        raise Invalid(f"relationship must be one of: {choices}.", field="relationship") from None


async def check_may_link(actor: Professional, child_id: int) -> Child:
    """The child, when `actor` may link or unlink it: LINK_CHILDREN in the policy, or an
    administrator (any record, unseen). Hidden and absent: NotFound; seen but not allowed:
    Forbidden."""
    if actor.role == Role.ADMIN and actor.is_active:
        child = await Child.get_or_none(id=child_id, merged_into_id=None)
        if child is None:
            raise NotFound(CHILD_NOT_FOUND)
        return child
    return await check_child_access(actor, child_id, Action.LINK_CHILDREN)


async def _check_may_name(actor: Professional, child_id: int) -> None:
    """The child named as the one to join: the linker must see it (administrators: exist)."""
    if actor.role == Role.ADMIN and actor.is_active:
        if not await Child.exists(id=child_id, merged_into_id=None):
            raise NotFound(CHILD_NOT_FOUND, field="with_child_id")
        return
    _, standings = await child_and_standings(actor, child_id)
    if not allows(standings, Action.VIEW):
        raise NotFound(CHILD_NOT_FOUND, field="with_child_id")


async def membership_of(child_id: int) -> HouseholdMember | None:
    return await HouseholdMember.get_or_none(child_id=child_id)


async def household_ids_of(child_ids: Iterable[int]) -> dict[int, int]:
    """child id -> household id, for those of these children in a household."""
    ids = list(child_ids)
    if not ids:
        return {}
    rows = await HouseholdMember.filter(child_id__in=ids).values("child_id", "household_id")
    return {int(row["child_id"]): int(row["household_id"]) for row in rows}


async def _entry(child_id: int, kind: EntryKind, actor: Professional, at: datetime) -> None:
    entry = await ChildEvent.create(child_id=child_id, kind=kind, actor_id=actor.id, created_at=at)
    await events.emit(events.CHILD_ENTRY, {"child_event_id": entry.id}, child_id=child_id)


async def _join(
    actor: Professional,
    household: Household,
    child_id: int,
    relationship: Relationship,
    ctx: AuditContext,
) -> None:
    """Inside the caller's transaction: the child joins, each feed gets its entry, one record."""
    now = utcnow()
    others = [m.child_id for m in await HouseholdMember.filter(household_id=household.id)]
    await HouseholdMember.create(
        household=household,
        child_id=child_id,
        relationship=relationship,
        linked_at=now,
        linked_by_id=actor.id,
    )
    await _entry(child_id, EntryKind.HOUSEHOLD_JOINED, actor, now)
    for other in others:
        await _entry(other, EntryKind.SIBLING_JOINED, actor, now)
    detail = {"household_id": household.id, "relationship": relationship.value}
    await audit.record(LINK, ctx, actor=actor, child_id=child_id, detail=detail)


async def do_link(
    actor: Professional,
    child_id: int,
    with_child_id: int,
    relationship: object,
    ctx: AuditContext,
) -> tuple[int, bool]:
    """Link the child into the household of `with_child_id` (a new one when that child has
    none, which links it too). Returns (household id, whether anything changed)."""
    chosen = check_relationship(relationship)
    if with_child_id == child_id:
        raise Invalid("Name another child to link this one with.", field="with_child_id")
    asked = {"with_child_id": with_child_id}
    async with audit.refusal_recorded(LINK, ctx, actor, child_id, asked):
        await check_may_link(actor, child_id)
        await _check_may_name(actor, with_child_id)
    mine, theirs = await membership_of(child_id), await membership_of(with_child_id)
    if mine is not None and theirs is not None and mine.household_id == theirs.household_id:
        same = asked | {"household_id": mine.household_id, "unchanged": True}
        await audit.record(LINK, ctx, actor=actor, child_id=child_id, detail=same)
        return mine.household_id, False
    if mine is not None:
        await _refuse_link(actor, child_id, ctx, asked, "This child is already in a household")
    if theirs is None:
        async with audit.refusal_recorded(LINK, ctx, actor, with_child_id, {"with": child_id}):
            await check_may_link(actor, with_child_id)  # it starts the household: linked too
    return await _write_link(actor, child_id, with_child_id, theirs, chosen, ctx), True


async def _refuse_link(
    actor: Professional, child_id: int, ctx: AuditContext, asked: dict[str, int], why: str
) -> None:
    await audit.record(
        LINK, ctx, actor=actor, child_id=child_id, outcome=AuditOutcome.DENIED, detail=asked
    )
    raise Conflict(f"{why}: unlink it first.")


async def _write_link(
    actor: Professional,
    child_id: int,
    with_child_id: int,
    theirs: HouseholdMember | None,
    chosen: Relationship,
    ctx: AuditContext,
) -> int:
    try:
        async with events.transaction():
            if theirs is None:
                household = await Household.create(created_at=utcnow(), created_by_id=actor.id)
                await _join(actor, household, with_child_id, chosen, ctx)
            else:
                household = await Household.get(id=theirs.household_id)
            await _join(actor, household, child_id, chosen, ctx)
    except IntegrityError:  # a concurrent link of one of them got there first
        raise Conflict("One of these children was linked a moment ago: reload.") from None
    return household.id


async def do_unlink(actor: Professional, child_id: int, ctx: AuditContext) -> None:
    """Take the child out of its household; the others stay linked to each other."""
    async with audit.refusal_recorded(UNLINK, ctx, actor, child_id):
        await check_may_link(actor, child_id)
    mine = await membership_of(child_id)
    if mine is None:
        await audit.record(UNLINK, ctx, actor=actor, child_id=child_id, outcome=AuditOutcome.FAILED)
        raise Conflict("This child is not in a household.")
    now = utcnow()
    async with events.transaction():
        removed = await HouseholdMember.filter(id=mine.id).delete()
        if not removed:
            raise Conflict("This child was unlinked a moment ago.")
        await _entry(child_id, EntryKind.HOUSEHOLD_LEFT, actor, now)
        others = HouseholdMember.filter(household_id=mine.household_id)
        for other in await others:
            await _entry(other.child_id, EntryKind.SIBLING_LEFT, actor, now)
        detail = {"household_id": mine.household_id}
        await audit.record(UNLINK, ctx, actor=actor, child_id=child_id, detail=detail)


async def family_for(viewer: Professional, child_id: int) -> Family | None:
    """The household of a child the viewer may see, as they may see it (None: no household).
    Not audited: callers record the read (`do_read_family`) or are part of one."""
    await check_child_access(viewer, child_id, Action.VIEW)
    mine = await membership_of(child_id)
    if mine is None:
        return None
    members, hidden = [], []
    for row in await HouseholdMember.filter(household_id=mine.household_id).order_by("id"):
        child, standings = await child_and_standings(viewer, row.child_id)
        if child is not None and allows(standings, Action.VIEW):
            shown = identity.as_seen_with(child, standings)  # a shielded sibling: its label
            members.append(Member(row.id, shown, Relationship(row.relationship)))
        else:
            hidden.append(row.id)
    return Family(mine.household_id, members, hidden)


async def do_read_family(viewer: Professional, child_id: int, ctx: AuditContext) -> Family | None:
    """The family, audited: one record for each child whose record it shows (a refusal:
    one denied record about the child asked through)."""
    async with audit.refusal_recorded(READ, ctx, viewer, child_id):
        family = await family_for(viewer, child_id)
    if family is None:
        await audit.record(READ, ctx, actor=viewer, child_id=child_id, detail={"household": None})
        return None
    detail = {"household_id": family.household_id, "through": child_id}
    for member in sorted(family.members, key=lambda m: m.child.id != child_id):
        await audit.record(READ, ctx, actor=viewer, child_id=member.child.id, detail=detail)
    return family


async def verdicts(family: Family) -> dict[int, BoardRow]:
    """Each visible child's stored velocity and silence verdicts, as the board reads them."""
    board = await build_board(set(family.child_ids), utcnow())
    return {row.child.id: row for row in board.rows}


async def timeline(family: Family, limit: int = TIMELINE) -> list[Post]:
    """Recent posts about the children the viewer may see, newest first (author loaded)."""
    posts = Post.filter(child_id__in=family.child_ids, removed_at__isnull=True)
    found = posts.order_by("-created_at", "-id").limit(limit).select_related("author__agency")
    return await found if family.child_ids else []


async def concerns(family: Family, now: datetime | None = None) -> list[Post]:
    """Hunches and concerns about any of them in the last CONCERN_DAYS, newest first: a
    worry about one sibling shows to whoever may see it beside the others."""
    if not family.child_ids:
        return []
    since = (now or utcnow()) - timedelta(days=CONCERN_DAYS)
    found = Post.filter(
        child_id__in=family.child_ids,
        removed_at__isnull=True,
        kind__in=sorted(WORRY_KINDS),
        created_at__gte=since,
    )
    return (
        await found.order_by("-created_at", "-id").limit(TIMELINE).select_related("author__agency")
    )


async def do_ask_for_slot(
    viewer: Professional,
    child_id: int,
    slot: int,
    answer: tuple[object, object],
    ctx: AuditContext,
) -> str:
    """Ask to join the network of the child in `slot` of the household of `child_id` (which
    the viewer sees), without learning its reference. `answer` is (role, reason). The same
    answer whether or not the viewer already sees that child; a slot outside this household
    is NotFound, like a child that does not exist."""
    asked = {"slot": slot}
    async with audit.refusal_recorded(
        AuditAction.ACCESS_REQUEST_CREATE, ctx, viewer, child_id, asked
    ):
        await check_child_access(viewer, child_id, Action.VIEW)
        mine, target = await membership_of(child_id), await HouseholdMember.get_or_none(id=slot)
        if mine is None or target is None or target.household_id != mine.household_id:
            raise NotFound(NO_SLOT, field="slot")
    assert target is not None
    detail: requests.Detail = {"household_id": target.household_id, "slot": slot}
    label = f"household slot {slot}"
    return await requests.do_request_unseen(viewer, target.child_id, label, answer, ctx, detail)
