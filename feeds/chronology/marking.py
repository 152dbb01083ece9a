"""Marking a post significant for the chronology, with "action taken" and "outcome for the
child". Its author may (EDIT_OWN_POST) and so may the lead professional (MARK_SIGNIFICANT);
every change keeps the values before it as a revision, and is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feeds import audit, events
from feeds.access.policy import Action
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.chronology.models import MAX_NOTE, Significance, SignificanceRevision
from feeds.clock import utcnow
from feeds.errors import Conflict, Invalid
from feeds.feed.posting import post_for_action
from feeds.models import Post, Professional

MARK = AuditAction.POST_SIGNIFICANCE
REMOVED = "This post was removed, so it cannot join the chronology."


@dataclass(frozen=True)
class Marking:
    """What the author or lead says about a post (all three are set together)."""

    significant: bool
    action_taken: str = ""
    outcome: str = ""


def check_note(raw: object, field: str) -> str:
    """Optional text up to MAX_NOTE characters (trimmed; CRLF counts as one)."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise Invalid(f"{field} must be text.", field=field)
    text = raw.replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTE:
        raise Invalid(f"{field} must be at most {MAX_NOTE} characters.", field=field)
    return text


def check_marking(significant: object, action_taken: object, outcome: object) -> Marking:
    if not isinstance(significant, bool):
        raise Invalid("significant must be true or false.", field="significant")
    return Marking(
        significant, check_note(action_taken, "action_taken"), check_note(outcome, "outcome")
    )


async def post_to_mark(marker: Professional, post_id: int, ctx: AuditContext) -> Post:
    """The post, when `marker` may mark it (its author, or the lead); refusals audited."""
    post = await post_for_action(marker, post_id, Action.MARK_SIGNIFICANT, MARK, ctx)
    if post.removed_at is not None:
        detail = {"post_id": post.id, "why": "removed"}
        await audit.record(
            MARK,
            ctx,
            actor=marker,
            child_id=post.child_id,
            outcome=AuditOutcome.DENIED,
            detail=detail,
        )
        raise Conflict(REMOVED)
    return post


async def significance_of(post_id: int) -> Significance | None:
    return await Significance.get_or_none(post_id=post_id)


async def do_mark(
    marker: Professional, post_id: int, marking: Marking, ctx: AuditContext
) -> Significance:
    """Set a post's significance; the values before are kept as a revision. Audited."""
    post = await post_to_mark(marker, post_id, ctx)
    now = utcnow()
    async with events.transaction():
        found = await Significance.select_for_update().get_or_none(post_id=post.id)
        if found is None:
            found = await Significance.create(
                post_id=post.id,
                child_id=post.child_id,
                changed_at=now,
                changed_by_id=marker.id,
                **_values(marking),
            )
        elif _changes(found, marking):
            await _keep_revision(found, marker, now)
            for name, value in _values(marking).items():
                setattr(found, name, value)
            found.changed_at, found.changed_by_id = now, marker.id
            await found.save()
        # Ids and the flag only: the notes are child data, and audit readers need not hold
        # a grant.
        detail = {"post_id": post.id, "significant": marking.significant}
        await audit.record(MARK, ctx, actor=marker, child_id=post.child_id, detail=detail)
        await events.emit(events.POST_EDITED, {"post_id": post.id}, child_id=post.child_id)
    return found


def _values(marking: Marking) -> dict[str, Any]:
    return {
        "significant": marking.significant,
        "action_taken": marking.action_taken,
        "outcome": marking.outcome,
    }


def _changes(found: Significance, marking: Marking) -> bool:
    return any(getattr(found, name) != value for name, value in _values(marking).items())


async def _keep_revision(found: Significance, marker: Professional, now: datetime) -> None:
    await SignificanceRevision.create(
        significance_id=found.id,
        significant=found.significant,
        action_taken=found.action_taken,
        outcome=found.outcome,
        changed_at=found.changed_at,
        changed_by_id=found.changed_by_id,
        replaced_at=now,
        replaced_by_id=marker.id,
    )


async def revisions_of(significance: Significance) -> list[SignificanceRevision]:
    """Earlier values, newest first."""
    return await SignificanceRevision.filter(significance_id=significance.id).order_by("-id")


@dataclass(frozen=True)
class MarkingForm:
    """What the marking page shows: the post (author and agency loaded), its current
    significance and the earlier values."""

    post: Post
    significance: Significance | None
    revisions: list[SignificanceRevision]


async def do_read_marking(viewer: Professional, post_id: int, ctx: AuditContext) -> MarkingForm:
    """For the marking page: only those who may mark the post see it here. Audited as a
    read of the chronology naming the post."""
    post = await post_to_mark(viewer, post_id, ctx)
    await post.fetch_related("author__agency")
    found = await significance_of(post.id)
    earlier = await revisions_of(found) if found is not None else []
    detail = {"post_id": post.id}
    await audit.record(
        AuditAction.CHRONOLOGY_READ, ctx, actor=viewer, child_id=post.child_id, detail=detail
    )
    return MarkingForm(post, found, earlier)


def significance_view(
    post_id: int, found: Significance | None, earlier: list[SignificanceRevision]
) -> dict[str, Any]:
    """JSON-safe: the current values (not significant when never marked) and revisions."""
    return {
        "post_id": post_id,
        "significant": bool(found and found.significant),
        "action_taken": found.action_taken if found else "",
        "outcome": found.outcome if found else "",
        "changed_at": found.changed_at.isoformat() if found else "",
        "changed_by_id": found.changed_by_id if found else 0,
        "revisions": [
            {
                "significant": r.significant,
                "action_taken": r.action_taken,
                "outcome": r.outcome,
                "changed_at": r.changed_at.isoformat(),
                "changed_by_id": r.changed_by_id,
                "replaced_at": r.replaced_at.isoformat(),
                "replaced_by_id": r.replaced_by_id,
            }
            for r in earlier
        ],
    }
