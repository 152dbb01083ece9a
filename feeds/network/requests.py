"""Asking to join a child's network, and the answer of the people answerable for it.

A professional names a child by the exact reference they were given (trimmed, any case;
never a search of names) and says their role and why. Whatever the reference names, or
whether they are already in, the caller hears the same thing: asking never reveals
whether a record exists. The request is stored (without a child when none matched) and
audited either way, and counted towards the requester's rate limit.

The lead professional and the managers around the child (`policy.responsible_for`) are
told at once. Whoever the policy lets manage grants approves, which is a grant (made by
`grants.do_grant`, until a chosen expiry), or declines with a reason; the requester is
told. An open request lapses after `LAPSE`, computed when read: a lapsed one cannot be
approved.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from feeds import audit, events, raw_sql
from feeds.access.grants import do_grant
from feeds.access.policy import (
    Action,
    Standing,
    check_child_access,
    check_item_access,
    child_and_standings,
    child_ids_sql,
    responsible_for,
)
from feeds.access.rules import allows
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Conflict, Invalid, NotFound, Throttled
from feeds.feed.notifications import do_notify
from feeds.models import Professional
from feeds.network.models import AccessRequest, RequestStatus

Detail = dict[str, Any]  # what an audit record says besides who, what and which child

LAPSE = timedelta(days=14)
RATE_LIMIT, RATE_WINDOW = 10, timedelta(hours=24)
DEFAULT_DAYS, MAX_DAYS = 90, 365
MAX_REFERENCE = 32
ROLE_LENGTH, REASON_LENGTH, DECLINE_LENGTH = (2, 100), (10, 500), (3, 500)
LAPSED = "lapsed"  # the status a stored open request reads as once `LAPSE` has passed

SENT = "Sent to the lead professional if the record exists."
NOT_FOUND = "No such request to join, or you may not decide it."
THROTTLED = (
    f"You have asked to join {RATE_LIMIT} records in the last 24 hours. Wait a while, "
    "or speak to the child's lead professional."
)
ASKED, APPROVED, DECLINED = "access_request", "access_request_approved", "access_request_declined"

CREATE, LIST = AuditAction.ACCESS_REQUEST_CREATE, AuditAction.ACCESS_REQUEST_LIST
DECLINE, APPROVE = AuditAction.ACCESS_REQUEST_DECLINE, AuditAction.GRANT_CREATE


def lapses_at(request: AccessRequest) -> datetime:
    return request.created_at + LAPSE


def status_of(request: AccessRequest, now: datetime | None = None) -> str:
    """open, approved, declined, or lapsed (open for longer than `LAPSE`)."""
    if request.status == RequestStatus.OPEN and (now or utcnow()) >= lapses_at(request):
        return LAPSED
    return str(request.status)


def _text(raw: object, field: str, length: tuple[int, int], message: str) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if not length[0] <= len(text) <= length[1]:
        raise Invalid(f"{message} ({length[0]} to {length[1]} characters).", field=field)
    return text


def check_reference(raw: object) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if not 1 <= len(text) <= MAX_REFERENCE or not text.isprintable():
        raise Invalid(
            f"Give the child's reference exactly as you were given it (up to {MAX_REFERENCE} "
            "characters).",
            field="reference",
        )
    return text


def check_role(raw: object) -> str:
    return _text(raw, "role", ROLE_LENGTH, "Say what your role is, for example “school nurse”")


def check_reason(raw: object) -> str:
    return _text(raw, "reason", REASON_LENGTH, "Say why you need to join this child's network")


def check_decline_reason(raw: object) -> str:
    return _text(raw, "reason", DECLINE_LENGTH, "Say why you are declining")


def check_days(raw: object) -> int:
    """How many days an approval's grant lasts: DEFAULT_DAYS when not given."""
    if raw is None or raw == "":
        return DEFAULT_DAYS
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 4:
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_DAYS:
        raise Invalid(f"days must be a whole number from 1 to {MAX_DAYS}.", field="days")
    return raw


# Hand-written: the exact reference, any case (an index on lower(reference), migration 0012);
# a merged record's reference asks for the record it was merged into.
_BY_REFERENCE_SQL = (
    "SELECT COALESCE(merged_into_id, id), reference FROM child WHERE lower(reference) = $1 "
    "ORDER BY id"
)


async def _child_by_reference(reference: str) -> int | None:
    if not reference.isascii():  # references are ASCII; SQLite's lower() is ASCII-only
        return None
    found = await raw_sql.fetch(_BY_REFERENCE_SQL, reference.lower())
    exact = [row for row in found if row[1] == reference]
    return int((exact or found)[0][0]) if found else None


async def _already_in(requester: Professional, child_id: int) -> bool:
    """In the child's network already: a grant, not emergency access, lets them see it."""
    _, standings = await child_and_standings(requester, child_id)
    return allows(standings - {Standing.BREAK_GLASS}, Action.VIEW)


async def _open_duplicate(
    requester: Professional, reference: str, now: datetime
) -> AccessRequest | None:
    """The requester's own open request for the same reference, if they asked already."""
    mine = AccessRequest.filter(
        requester_id=requester.id, status=RequestStatus.OPEN, created_at__gt=now - LAPSE
    )
    return next((r for r in await mine if r.reference.lower() == reference.lower()), None)


async def do_request_access(
    requester: Professional, reference: object, role: object, reason: object, ctx: AuditContext
) -> str:
    """Ask to join the network of the child with this reference; returns `SENT` whatever
    the reference names. Throttled past RATE_LIMIT requests in RATE_WINDOW."""
    ref, role_text, why = check_reference(reference), check_role(role), check_reason(reason)
    detail: Detail = {"reference": ref}
    await _check_rate(requester, ctx, detail)
    child_id = await _child_by_reference(ref)
    return await _ask(requester, child_id, ref, (role_text, why), ctx, detail)


async def do_request_unseen(
    requester: Professional,
    child_id: int,
    label: str,
    answer: tuple[object, object],
    ctx: AuditContext,
    detail: Detail,
) -> str:
    """Ask to join a child the requester was shown without its reference (a child in a
    household they cannot see): stored under `label`, which is all their own list shows.
    `answer` is (role, reason). The same checks, limit and answer as asking by reference."""
    role_text, why = check_role(answer[0]), check_reason(answer[1])
    await _check_rate(requester, ctx, detail)
    return await _ask(requester, child_id, label, (role_text, why), ctx, detail)


async def _check_rate(requester: Professional, ctx: AuditContext, detail: Detail) -> None:
    recent = AccessRequest.filter(requester_id=requester.id, created_at__gt=utcnow() - RATE_WINDOW)
    if await recent.count() >= RATE_LIMIT:
        limited = detail | {"why": "rate limited"}
        await audit.record(
            CREATE, ctx, actor=requester, outcome=AuditOutcome.DENIED, detail=limited
        )
        raise Throttled(THROTTLED)


async def _ask(
    requester: Professional,
    child_id: int | None,
    ref: str,
    answer: tuple[str, str],
    ctx: AuditContext,
    detail: Detail,
) -> str:
    now = utcnow()
    if child_id is not None and await _already_in(requester, child_id):
        already = detail | {"already_has_access": True}
        await audit.record(CREATE, ctx, actor=requester, child_id=child_id, detail=already)
        return SENT
    if (same := await _open_duplicate(requester, ref, now)) is not None:
        repeated = detail | {"access_request_id": same.id, "repeated": True}
        await audit.record(CREATE, ctx, actor=requester, child_id=child_id, detail=repeated)
        return SENT
    async with events.transaction():
        request = await AccessRequest.create(
            requester=requester,
            child_id=child_id,
            reference=ref,
            role=answer[0],
            reason=answer[1],
            created_at=now,
        )
        for person in await responsible_for(child_id) if child_id is not None else []:
            await do_notify(person, ASKED, child_id, actor_id=requester.id)
        stored = detail | {"access_request_id": request.id}
        await audit.record(CREATE, ctx, actor=requester, child_id=child_id, detail=stored)
    return SENT


async def _decidable(
    decider: Professional, request_id: int, action: AuditAction, ctx: AuditContext
) -> AccessRequest:
    """The open request, once the policy lets `decider` manage grants on its child. A
    refusal, or a request already decided or lapsed, leaves one "denied" record."""
    request = await AccessRequest.get_or_none(id=request_id)
    child_id = request.child_id if request is not None else None
    asked = {"access_request_id": request_id}
    async with audit.refusal_recorded(action, ctx, decider, child_id, asked):
        if request is None or child_id is None:
            raise NotFound(NOT_FOUND)
        await check_item_access(decider, child_id, Action.MANAGE_GRANTS, NOT_FOUND)
    assert request is not None
    state = status_of(request)
    if state != RequestStatus.OPEN:
        why = asked | {"why": state}
        await audit.record(
            action, ctx, actor=decider, child_id=child_id, outcome=AuditOutcome.DENIED, detail=why
        )
        if state == LAPSED:
            raise Conflict("This request has lapsed: ask them to send a new one.")
        raise Conflict(f"This request was already {state}.")
    return request


async def _close(
    request: AccessRequest, decider: Professional, status: RequestStatus, note: str = ""
) -> None:
    """Decide the request unless someone else just did, or it lapsed meanwhile."""
    now = utcnow()
    changed = await AccessRequest.filter(
        id=request.id, status=RequestStatus.OPEN, created_at__gt=now - LAPSE
    ).update(status=status, decided_at=now, decided_by_id=decider.id, decline_reason=note)
    if not changed:
        raise Conflict("This request was decided a moment ago, or has lapsed.")


async def do_approve(
    decider: Professional, request_id: int, days: object, ctx: AuditContext
) -> AccessRequest:
    """Approve: a grant to the requester for `days` (recorded as grant.create naming the
    request), and the requester is told."""
    request = await _decidable(decider, request_id, APPROVE, ctx)
    until = utcnow() + timedelta(days=check_days(days))
    assert request.child_id is not None
    async with events.transaction():
        await _close(request, decider, RequestStatus.APPROVED)
        grant = await do_grant(
            decider,
            request.child_id,
            ctx,
            professional_id=request.requester_id,
            expires_at=until,
            access_request_id=request.id,
        )
        await AccessRequest.filter(id=request.id).update(grant_id=grant.id)
        await do_notify(request.requester_id, APPROVED, request.child_id, actor_id=decider.id)
    return await AccessRequest.get(id=request.id).select_related("requester__agency", "child")


async def do_decline(
    decider: Professional, request_id: int, reason: object, ctx: AuditContext
) -> AccessRequest:
    """Decline with a reason; the requester is told (a notification naming no child)."""
    request = await _decidable(decider, request_id, DECLINE, ctx)
    note = check_decline_reason(reason)
    async with events.transaction():
        await _close(request, decider, RequestStatus.DECLINED, note)
        await do_notify(request.requester_id, DECLINED, None, actor_id=decider.id)
        detail = {"access_request_id": request.id}
        await audit.record(DECLINE, ctx, actor=decider, child_id=request.child_id, detail=detail)
    return await AccessRequest.get(id=request.id).select_related("requester__agency", "child")


async def _open_for(child_ids: list[int]) -> list[AccessRequest]:
    if not child_ids:
        return []
    since = utcnow() - LAPSE
    waiting = AccessRequest.filter(
        child_id__in=child_ids, status=RequestStatus.OPEN, created_at__gt=since
    )
    return await waiting.order_by("created_at", "id").select_related("requester__agency", "child")


async def waiting_for_child(viewer: Professional, child_id: int) -> list[AccessRequest]:
    """Open requests to join this child's network, for the child page (whose feed read
    records the visit). Forbidden unless the viewer may manage grants."""
    await check_child_access(viewer, child_id, Action.MANAGE_GRANTS)
    return await _open_for([child_id])


async def do_read_for_child(
    viewer: Professional, child_id: int, ctx: AuditContext
) -> list[AccessRequest]:
    """Open requests for one child, as its own read (the API): audited, refusals too."""
    async with audit.refusal_recorded(LIST, ctx, viewer, child_id):
        found = await waiting_for_child(viewer, child_id)
    await audit.record(LIST, ctx, actor=viewer, child_id=child_id, detail={"count": len(found)})
    return found


async def do_read_waiting(viewer: Professional, ctx: AuditContext) -> list[AccessRequest]:
    """Open requests on every child whose grants the viewer may manage, oldest first."""
    rows = await raw_sql.fetch(child_ids_sql(Action.MANAGE_GRANTS), utcnow(), viewer.id)
    found = await _open_for(sorted({int(row[0]) for row in rows}))
    children = sorted({r.child_id for r in found if r.child_id is not None})
    await audit.record(LIST, ctx, actor=viewer, detail={"children": children})
    return found


async def my_requests(requester: Professional, limit: int = 50) -> list[AccessRequest]:
    """The requester's own requests, newest first (what they typed, and the answer)."""
    return await AccessRequest.filter(requester_id=requester.id).order_by("-id").limit(limit)
