"""Reading a caseload and a child's feed; every feed read is audited."""

from __future__ import annotations

from dataclasses import dataclass

from feeds import audit
from feeds.access import Action, check_child_access, visible_child_ids
from feeds.audit import AuditContext
from feeds.errors import Invalid
from feeds.models import Child, Post, Professional

MAX_PAGE = 100


@dataclass(frozen=True)
class FeedPage:
    child: Child
    posts: list[Post]
    next_before: int | None  # pass as ?before= to get the next (older) page


async def caseload(professional: Professional) -> list[Child]:
    """The children this professional may see, by name."""
    ids = await visible_child_ids(professional)
    return await Child.filter(id__in=ids).order_by("display_name", "id")


async def read_child(professional: Professional, child_id: int, ctx: AuditContext) -> Child:
    """One child's record, audited."""
    child = await _checked(professional, child_id, "child.read", ctx)
    await audit.record("child.read", ctx, actor=professional, child_id=child.id)
    return child


async def _checked(
    professional: Professional, child_id: int, action: str, ctx: AuditContext
) -> Child:
    try:
        return await check_child_access(professional, child_id, Action.VIEW)
    except Exception:
        # Refusals are audited too: repeated probing is worth a reviewer's attention.
        await audit.record(action, ctx, actor=professional, child_id=child_id, outcome="denied")
        raise


def check_page_args(before: int | None, limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}.", field="limit")
    if before is not None and before < 1:
        raise Invalid("before must be a positive post id.", field="before")


async def read_feed(
    professional: Professional,
    child_id: int,
    ctx: AuditContext,
    *,
    before: int | None = None,
    limit: int = 20,
) -> FeedPage:
    """One page of a child's feed, newest first, and an audit record of the read."""
    check_page_args(before, limit)
    child = await _checked(professional, child_id, "feed.read", ctx)
    query = Post.filter(child_id=child.id, removed_at__isnull=True)
    if before is not None:
        query = query.filter(id__lt=before)
    posts = await query.order_by("-id").limit(limit + 1).select_related("author__agency")
    more = len(posts) > limit
    posts = posts[:limit]
    await audit.record(
        "feed.read",
        ctx,
        actor=professional,
        child_id=child.id,
        detail={"before": before, "count": len(posts)},
    )
    return FeedPage(child, posts, posts[-1].id if more else None)
