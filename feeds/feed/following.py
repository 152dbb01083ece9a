"""Follow and unfollow children (as a professional, or for a whole team by its manager),
and the home stream: one merged, newest-first feed of the followed children the user may
see. A follow never grants access: a team's follow reaches only the members who may see
the child, and stops reaching one who loses access."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q

from feeds import audit, events
from feeds.access.policy import Action, check_child_access, team_ids_of, visible_child_ids
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import Forbidden
from feeds.feed.reading import check_page_args
from feeds.models import Follow, Post, Professional, TeamMember

TEAM_REFUSED = "Only a manager of the team can make it follow a child, or stop."


async def managed_team_ids(professional: Professional) -> set[int]:
    """The teams this professional manages: the teams they may make follow a child."""
    found = await TeamMember.filter(professional_id=professional.id, is_manager=True).values(
        "team_id"
    )
    return {int(row["team_id"]) for row in found}


async def _check_team(professional: Professional, team_id: int | None) -> None:
    if team_id is not None and team_id not in await managed_team_ids(professional):
        raise Forbidden(TEAM_REFUSED)


@dataclass(frozen=True)
class TeamFollow:
    team_id: int
    name: str
    following: bool
    may_change: bool  # a manager of the team


async def read_team_follows(
    professional: Professional, child_id: int, ctx: AuditContext
) -> list[TeamFollow]:
    """`team_follows` for the API: the child checked and the read audited."""
    async with audit.refusal_recorded(AuditAction.FOLLOW_LIST, ctx, professional, child_id):
        await check_child_access(professional, child_id, Action.VIEW)
    found = await team_follows(professional, child_id)
    detail = {"teams": [team.team_id for team in found if team.following]}
    await audit.record(
        AuditAction.FOLLOW_LIST, ctx, actor=professional, child_id=child_id, detail=detail
    )
    return found


async def team_follows(professional: Professional, child_id: int) -> list[TeamFollow]:
    """The professional's teams and whether each follows the child (the caller has checked
    that they may see it): what the child page's "Team follows" control shows."""
    rows = await TeamMember.filter(professional_id=professional.id).values(
        "team_id", "team__name", "is_manager"
    )
    ids = [int(row["team_id"]) for row in rows]
    followed = set(
        await Follow.filter(child_id=child_id, team_id__in=ids).values_list("team_id", flat=True)
    )
    found = [
        TeamFollow(int(r["team_id"]), r["team__name"], r["team_id"] in followed, r["is_manager"])
        for r in rows
    ]
    return sorted(found, key=lambda team: team.name)


def _holder(professional: Professional, team_id: int | None) -> dict[str, Any]:
    if team_id is None:
        return {"professional_id": professional.id, "team_id": None}
    return {"professional_id": None, "team_id": team_id}


async def do_follow(
    professional: Professional, child_id: int, ctx: AuditContext, team_id: int | None = None
) -> Follow:
    """Follow a child the professional may see (idempotent)."""
    async with audit.refusal_recorded(AuditAction.FOLLOW_CREATE, ctx, professional, child_id):
        await check_child_access(professional, child_id, Action.VIEW)
        await _check_team(professional, team_id)
    holder = _holder(professional, team_id)
    existing = await Follow.get_or_none(child_id=child_id, **holder)
    if existing is not None:  # nothing changes; the decision is recorded all the same
        detail = {**holder, "already_following": True}
        await audit.record(
            AuditAction.FOLLOW_CREATE, ctx, actor=professional, child_id=child_id, detail=detail
        )
        return existing
    async with events.transaction():
        follow = await Follow.create(child_id=child_id, **holder)
        await audit.record(
            AuditAction.FOLLOW_CREATE,
            ctx,
            actor=professional,
            child_id=child_id,
            detail=dict(holder),
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
    async with audit.refusal_recorded(AuditAction.FOLLOW_DELETE, ctx, professional, child_id):
        await check_child_access(professional, child_id, Action.VIEW)
        await _check_team(professional, team_id)
    holder = _holder(professional, team_id)
    async with events.transaction():
        deleted = await Follow.filter(child_id=child_id, **holder).delete()
        detail = dict(holder) if deleted else {**holder, "was_following": False}
        await audit.record(
            AuditAction.FOLLOW_DELETE, ctx, actor=professional, child_id=child_id, detail=detail
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
    professional: Professional, ctx: AuditContext, *, before: int | None = None, limit: int = 20
) -> list[Post]:
    """Newest posts across the followed children; audited in each child's log."""
    check_page_args(before, limit)
    query = Post.filter(
        child_id__in=await followed_child_ids(professional), removed_at__isnull=True
    )
    if before is not None:
        query = query.filter(id__lt=before)
    posts = await query.order_by("-id").limit(limit).prefetch_related("author__agency")
    shown: dict[int, list[Post]] = {}
    for post in posts:
        shown.setdefault(post.child_id, []).append(post)
    await record_stream_read(AuditAction.FEED_HOME, professional, ctx, before, shown)
    return posts


async def record_stream_read(
    action: AuditAction,
    professional: Professional,
    ctx: AuditContext,
    before: int | None,
    shown: dict[int, list[Post]],
) -> None:
    """A read across children (home, since yesterday): one record per child shown, so each
    child's audit lists it as a feed read does; one without a child when nothing was shown."""
    if not shown:
        empty: dict[str, Any] = {"before": before, "count": 0}
        await audit.record(action, ctx, actor=professional, detail=empty)
    for child_id, posts in shown.items():
        detail: dict[str, Any] = {"before": before, "post_ids": [p.id for p in posts]}
        await audit.record(action, ctx, actor=professional, child_id=child_id, detail=detail)
