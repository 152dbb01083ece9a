"""Follow and unfollow children (as a professional or for a whole team), and the home
stream: one merged, newest-first feed of the followed children the user may see."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from feeds import audit, events
from feeds.access.policy import Action, check_child_access, team_ids_of, visible_child_ids
from feeds.audit.records import AuditContext
from feeds.errors import Forbidden
from feeds.feed.reading import check_page_args
from feeds.models import Follow, Post, Professional


async def _check_team(professional: Professional, team_id: int | None) -> None:
    if team_id is not None and team_id not in await team_ids_of(professional):
        raise Forbidden("You can only follow children on behalf of a team you belong to.")


def _holder(professional: Professional, team_id: int | None) -> dict[str, Any]:
    if team_id is None:
        return {"professional_id": professional.id, "team_id": None}
    return {"professional_id": None, "team_id": team_id}


async def do_follow(
    professional: Professional, child_id: int, ctx: AuditContext, team_id: int | None = None
) -> Follow:
    """Follow a child the professional may see (idempotent)."""
    async with audit.refusal_recorded("follow.create", ctx, professional, child_id):
        await check_child_access(professional, child_id, Action.VIEW)
        await _check_team(professional, team_id)
    holder = _holder(professional, team_id)
    existing = await Follow.get_or_none(child_id=child_id, **holder)
    if existing is not None:  # nothing changes; the decision is recorded all the same
        detail = {**holder, "already_following": True}
        await audit.record(
            "follow.create", ctx, actor=professional, child_id=child_id, detail=detail
        )
        return existing
    async with events.transaction():
        follow = await Follow.create(child_id=child_id, **holder)
        await audit.record(
            "follow.create", ctx, actor=professional, child_id=child_id, detail=dict(holder)
        )
        await events.emit(
            events.FOLLOW_CHANGED,
            {"following": True, **holder},
            child_id=child_id,
            recipient_id=holder["professional_id"],
        )
    return follow


async def do_unfollow(
    professional: Professional, child_id: int, ctx: AuditContext, team_id: int | None = None
) -> None:
    """Stop following (idempotent)."""
    async with audit.refusal_recorded("follow.delete", ctx, professional, child_id):
        await check_child_access(professional, child_id, Action.VIEW)
        await _check_team(professional, team_id)
    holder = _holder(professional, team_id)
    async with events.transaction():
        deleted = await Follow.filter(child_id=child_id, **holder).delete()
        detail = dict(holder) if deleted else {**holder, "was_following": False}
        await audit.record(
            "follow.delete", ctx, actor=professional, child_id=child_id, detail=detail
        )
        if deleted:
            await events.emit(
                events.FOLLOW_CHANGED,
                {"following": False, **holder},
                child_id=child_id,
                recipient_id=holder["professional_id"],
            )


async def followed_child_ids(professional: Professional) -> set[int]:
    """Children followed by the professional or one of their teams, and still visible."""
    teams = await team_ids_of(professional)
    holder = Q(professional_id=professional.id)
    if teams:
        holder |= Q(team_id__in=teams)
    rows = await Follow.filter(holder).values("child_id")
    return {int(row["child_id"]) for row in rows} & await visible_child_ids(professional)


async def home_stream(
    professional: Professional, *, before: int | None = None, limit: int = 20
) -> list[Post]:
    """Newest posts across the followed children."""
    check_page_args(before, limit)
    query = Post.filter(
        child_id__in=await followed_child_ids(professional), removed_at__isnull=True
    )
    if before is not None:
        query = query.filter(id__lt=before)
    return await query.order_by("-id").limit(limit).prefetch_related("author__agency")
