"""Acknowledging a post ("seen"): the author sees it live and in their inbox."""

from __future__ import annotations

from feeds import audit, events
from feeds.access.policy import POST_NOT_FOUND, Action, check_item_access
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import NotFound
from feeds.feed.notifications import do_notify
from feeds.models import Acknowledgement, Post, Professional


async def do_acknowledge(professional: Professional, post_id: int, ctx: AuditContext) -> int:
    """Mark a post seen by this professional (idempotent); returns how many have seen it."""
    post = await Post.get_or_none(id=post_id, removed_at__isnull=True)
    child_id = post.child_id if post else None
    detail = {"post_id": post_id}
    async with audit.refusal_recorded(
        AuditAction.POST_ACKNOWLEDGE, ctx, professional, child_id, detail
    ):
        if post is None:
            raise NotFound(POST_NOT_FOUND)
        await check_item_access(professional, post.child_id, Action.VIEW, POST_NOT_FOUND)
    if not await Acknowledgement.filter(post_id=post.id, professional_id=professional.id).exists():
        async with events.transaction():
            await _record(professional, post, ctx)
    else:  # seen before: nothing changes, the decision is recorded all the same
        detail = {"post_id": post.id, "already_seen": True}
        await audit.record(
            AuditAction.POST_ACKNOWLEDGE,
            ctx,
            actor=professional,
            child_id=post.child_id,
            detail=detail,
        )
    return await Acknowledgement.filter(post_id=post.id).count()


async def _record(professional: Professional, post: Post, ctx: AuditContext) -> None:
    await Acknowledgement.create(post=post, professional=professional)
    await audit.record(
        AuditAction.POST_ACKNOWLEDGE,
        ctx,
        actor=professional,
        child_id=post.child_id,
        detail={"post_id": post.id},
    )
    seen = await Acknowledgement.filter(post_id=post.id).count()
    await events.emit(
        events.POST_ACKNOWLEDGED,
        {"post_id": post.id, "by_id": professional.id, "count": seen},
        child_id=post.child_id,
    )
    if post.author_id == professional.id:
        return
    await do_notify(
        post.author_id, "acknowledged", post.child_id, actor_id=professional.id, post_id=post.id
    )
