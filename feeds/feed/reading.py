"""Reading a caseload and a child's feed; every feed read is audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from feeds import audit, raw_sql
from feeds.access import identity
from feeds.access.policy import Action, check_child_access, visible_children
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.errors import Invalid, NotFound
from feeds.feed import visits
from feeds.models import Child, Post, Professional
from feeds.serializers import PostView, iso

MAX_PAGE = 100
P = TypeVar("P", Post, PostView)


@dataclass(frozen=True)
class FeedPage(Generic[P]):
    child: Child
    posts: list[P]
    next_before: int | None  # pass as ?before= to get the next (older) page
    before: int | None = None  # this page's own `before`: None for the newest page
    # With `visit`: the last post the reader had seen before this read (None: first visit).
    last_seen: int | None = None


async def caseload(professional: Professional) -> list[Child]:
    """The children this professional may see, by name, as they may see them (a shielded
    child without a direct grant: its label, listed after the named ones)."""
    return await identity.shown_children(professional, await visible_children(professional))


async def read_child(professional: Professional, child_id: int, ctx: AuditContext) -> Child:
    """One child's record as the professional may see it, audited."""
    child = await _checked(professional, child_id, AuditAction.CHILD_READ, ctx)
    await audit.record(AuditAction.CHILD_READ, ctx, actor=professional, child_id=child.id)
    return await identity.seen_child(professional, child)


async def _checked(
    professional: Professional, child_id: int, action: AuditAction, ctx: AuditContext
) -> Child:
    try:
        return await check_child_access(professional, child_id, Action.VIEW)
    except Exception:
        # Refusals are audited too: repeated probing is worth a reviewer's attention.
        await audit.record(
            action, ctx, actor=professional, child_id=child_id, outcome=AuditOutcome.DENIED
        )
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


Moment = Callable[[object], datetime | None]


def _post_view(row: raw_sql.Row, created_at: Moment, edited_at: Moment) -> PostView:
    """As views.post_view renders the post (never a removed one: the query skips them);
    the columns' values converted as the ORM converts them."""
    post_id, child_id, kind, body, created, edited, author_id, name, handle, title, agency = row
    return {
        "id": post_id,
        "child_id": child_id,
        "kind": str(kind),
        "body": body,
        "created_at": iso(created_at(created)) or "",
        "edited_at": iso(edited_at(edited)),
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
    created_at, edited_at = (raw_sql.converter(Post, name) for name in ("created_at", "edited_at"))
    return [_post_view(row, created_at, edited_at) for row in found]


async def _read_page(
    professional: Professional,
    child_id: int,
    ctx: AuditContext,
    before: int | None,
    limit: int,
    load: Callable[[int, int | None, int], Awaitable[list[P]]],
    id_of: Callable[[P], int],
    holding: int | None = None,
    visit: bool = False,
) -> FeedPage[P]:
    check_page_args(before, limit)
    child = await _checked(professional, child_id, AuditAction.FEED_READ, ctx)
    if holding is not None:  # only now: whether a post exists is the child's business
        before = await _before_holding(child.id, holding, limit)
    posts = await load(child.id, before, limit + 1)
    more = len(posts) > limit
    posts = posts[:limit]
    detail = {"before": before, "count": len(posts)}
    await audit.record(
        AuditAction.FEED_READ,
        ctx,
        actor=professional,
        child_id=child.id,
        detail=detail if holding is None else {**detail, "post": holding},
        shielded=identity.is_shielded(child),  # as the access check just read it
    )
    seen = await _visit(professional, child.id, before, posts, id_of) if visit else None
    return FeedPage(child, posts, id_of(posts[-1]) if more else None, before, seen)


async def _visit(
    professional: Professional,
    child_id: int,
    before: int | None,
    posts: list[P],
    id_of: Callable[[P], int],
) -> int | None:
    """Part of the audited read: the new-since-your-last-visit marker as it was, moved
    to the top post when the newest page was shown (an older page leaves it)."""
    if before is not None:
        return await visits.last_seen(professional.id, child_id)
    return await visits.seen_then_note(professional.id, child_id, id_of(posts[0]) if posts else 0)


async def _before_holding(child_id: int, post_id: int, limit: int) -> int | None:
    """The `before` of the page that shows this post, in the feed's usual paging (newest
    first, `limit` a page, each page starting below the last one's last post); None for
    the newest page. NotFound when the child has no such post (or it was removed)."""
    shown = Post.filter(child_id=child_id, removed_at__isnull=True)
    if not await shown.filter(id=post_id).exists():
        raise NotFound("No such post.", field="post")
    newer = await shown.filter(id__gt=post_id).count()
    page = newer // limit
    if page == 0:
        return None
    # The last post of the page before: position page * limit - 1, newest first.
    last = await shown.filter(id__gt=post_id).order_by("id").offset(newer - page * limit).first()
    return last.id if last else None


async def read_feed(
    professional: Professional,
    child_id: int,
    ctx: AuditContext,
    *,
    before: int | None = None,
    limit: int = 20,
    holding: int | None = None,
    visit: bool = False,
) -> FeedPage[Post]:
    """One page of a child's feed, newest first, and an audit record of the read; with
    `holding`, the page that shows that post (a search hit opens there); with `visit`, the
    reader's last-visit marker (`FeedPage.last_seen`), moved on by a newest page."""
    return await _read_page(
        professional, child_id, ctx, before, limit, _posts, lambda post: post.id, holding, visit
    )


async def read_feed_views(
    professional: Professional,
    child_id: int,
    ctx: AuditContext,
    *,
    before: int | None = None,
    limit: int = 20,
) -> FeedPage[PostView]:
    """`read_feed` with the posts as views.post_view renders them for this reader (what the
    API returns)."""
    page = await _read_page(
        professional, child_id, ctx, before, limit, _post_views, lambda view: view["id"]
    )
    # Any child's posts may name a shielded child (a sibling's): one query per page.
    redact = await identity.redactor(professional, [v["child_id"] for v in page.posts])
    if not redact.hidden:
        return page
    posts: list[PostView] = [{**v, "body": redact(v["body"])} for v in page.posts]
    return replace(page, posts=posts)
