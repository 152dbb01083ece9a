"""Reading a caseload and a child's feed; every feed read is audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from feeds import audit, raw_sql
from feeds.access.policy import Action, check_child_access, visible_children
from feeds.audit.records import AuditContext
from feeds.errors import Invalid
from feeds.models import Child, Post, Professional
from feeds.serializers import PostView, iso

MAX_PAGE = 100
P = TypeVar("P", Post, PostView)


@dataclass(frozen=True)
class FeedPage(Generic[P]):
    child: Child
    posts: list[P]
    next_before: int | None  # pass as ?before= to get the next (older) page


async def caseload(professional: Professional) -> list[Child]:
    """The children this professional may see, by name."""
    return await visible_children(professional)


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


async def _posts(child_id: int, before: int | None, count: int) -> list[Post]:
    query = Post.filter(child_id=child_id, removed_at__isnull=True)
    if before is not None:
        query = query.filter(id__lt=before)
    return await query.order_by("-id").limit(count).select_related("author__agency")


# Hand-written for the API's feed page: the same rows as `_posts`, straight to views
# (building three models per post cost more CPU than the query).
POST_VIEWS_SQL = (
    "SELECT p.id, p.child_id, p.kind, p.body, p.created_at, p.edited_at, "
    "r.id, r.name, r.handle, r.job_title, a.name FROM post p "
    "JOIN professional r ON r.id = p.author_id JOIN agency a ON a.id = r.agency_id "
    "WHERE p.child_id = $1 AND p.removed_at IS NULL{before} ORDER BY p.id DESC LIMIT $2"
)


def _post_view(row: raw_sql.Row) -> PostView:
    """As views.post_view renders the post (never a removed one: the query skips them)."""
    post_id, child_id, kind, body, created, edited, author_id, name, handle, title, agency = row
    return {
        "id": post_id,
        "child_id": child_id,
        "kind": str(kind),
        "body": body,
        "created_at": iso(raw_sql.python_value(Post, "created_at", created)) or "",
        "edited_at": iso(raw_sql.python_value(Post, "edited_at", edited)),
        "author": {
            "id": author_id,
            "name": name,
            "handle": handle,
            "job_title": title,
            "agency": agency,
        },
    }


async def _post_views(child_id: int, before: int | None, count: int) -> list[PostView]:
    if before is None:
        found = await raw_sql.fetch(POST_VIEWS_SQL.format(before=""), child_id, count)
    else:
        sql = POST_VIEWS_SQL.format(before=" AND p.id < $3")
        found = await raw_sql.fetch(sql, child_id, count, before)
    return [_post_view(row) for row in found]


async def _read_page(
    professional: Professional,
    child_id: int,
    ctx: AuditContext,
    before: int | None,
    limit: int,
    load: Callable[[int, int | None, int], Awaitable[list[P]]],
    id_of: Callable[[P], int],
) -> FeedPage[P]:
    check_page_args(before, limit)
    child = await _checked(professional, child_id, "feed.read", ctx)
    posts = await load(child.id, before, limit + 1)
    more = len(posts) > limit
    posts = posts[:limit]
    await audit.record(
        "feed.read",
        ctx,
        actor=professional,
        child_id=child.id,
        detail={"before": before, "count": len(posts)},
    )
    return FeedPage(child, posts, id_of(posts[-1]) if more else None)


async def read_feed(
    professional: Professional,
    child_id: int,
    ctx: AuditContext,
    *,
    before: int | None = None,
    limit: int = 20,
) -> FeedPage[Post]:
    """One page of a child's feed, newest first, and an audit record of the read."""
    return await _read_page(
        professional, child_id, ctx, before, limit, _posts, lambda post: post.id
    )


async def read_feed_views(
    professional: Professional,
    child_id: int,
    ctx: AuditContext,
    *,
    before: int | None = None,
    limit: int = 20,
) -> FeedPage[PostView]:
    """`read_feed` with the posts as views.post_view renders them (what the API returns)."""
    return await _read_page(
        professional, child_id, ctx, before, limit, _post_views, lambda view: view["id"]
    )
