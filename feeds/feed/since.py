"""Since yesterday: the posts across the children one follows (oneself or through a team)
since 00:00 UTC yesterday, grouped by child, newest first; audited in each child's log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from feeds.access import identity
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.feed.following import followed_child_ids, record_stream_read
from feeds.feed.reading import check_page_args
from feeds.models import Child, ChildVisit, Post, Professional

SINCE_PAGE = 50  # posts on a page


def start_of_yesterday(now: datetime) -> datetime:
    """00:00 UTC on the day before `now`'s UTC day (the service keeps UTC throughout)."""
    day = now.astimezone(UTC).date() - timedelta(days=1)
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


@dataclass(frozen=True)
class ChildPosts:
    child: Child  # as the reader may see it (a shielded child: its label)
    posts: list[Post]  # newest first
    last_seen: int | None  # the reader's last-visit marker (None: never opened)


@dataclass(frozen=True)
class SincePage:
    since: datetime
    groups: list[ChildPosts]  # the child with the newest post first
    next_before: int | None  # pass as ?before= for the next (older) page
    count: int
    redact: identity.Redactor  # how the reader reads the posts' text


async def read_since_yesterday(
    professional: Professional,
    ctx: AuditContext,
    *,
    before: int | None = None,
    limit: int = SINCE_PAGE,
    now: datetime | None = None,
) -> SincePage:
    """One page of posts (paged newest first by post id, like a feed) on the followed
    children the professional may see now, since 00:00 UTC yesterday; audited."""
    check_page_args(before, limit)
    since = start_of_yesterday(now or utcnow())
    query = Post.filter(
        child_id__in=await followed_child_ids(professional),
        removed_at__isnull=True,
        created_at__gte=since,
    )
    if before is not None:
        query = query.filter(id__lt=before)
    found = await query.order_by("-id").limit(limit + 1).select_related("author__agency", "child")
    posts = found[:limit]
    groups = await _grouped(professional, posts)
    shown = {group.child.id: group.posts for group in groups}
    await record_stream_read(AuditAction.SINCE_YESTERDAY, professional, ctx, before, shown)
    redact = await identity.redactor(professional, shown)
    more = posts[-1].id if len(found) > limit else None
    return SincePage(since, groups, more, len(posts), redact)


async def _grouped(professional: Professional, posts: list[Post]) -> list[ChildPosts]:
    by_child: dict[int, list[Post]] = {}
    for post in posts:
        by_child.setdefault(post.child_id, []).append(post)
    marks = await ChildVisit.filter(
        professional_id=professional.id, child_id__in=list(by_child)
    ).values("child_id", "last_seen_post_id")
    seen = {int(row["child_id"]): int(row["last_seen_post_id"]) for row in marks}
    children = await identity.as_seen_by(
        professional, [group[0].child for group in by_child.values()]
    )
    return [
        ChildPosts(child, group, seen.get(key))
        for child, (key, group) in zip(children, by_child.items(), strict=True)
    ]
