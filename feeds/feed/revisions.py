"""A post's earlier wordings: shown to anyone who may see the post, and audited like a
read of the feed (refusals too)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feeds import audit
from feeds.access import identity
from feeds.access.policy import POST_NOT_FOUND, Action, check_item_access
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import NotFound
from feeds.models import Child, Post, PostRevision, Professional
from feeds.serializers import iso

MAX_REVISIONS = 100  # a post edited more often than this shows its newest changes


@dataclass(frozen=True)
class History:
    post: Post  # as it is now, author and agency loaded
    child: Child
    revisions: list[PostRevision]  # newest first, replaced_by loaded
    redact: identity.Redactor  # how the viewer reads the texts (a shielded child's name)


async def do_read_revisions(viewer: Professional, post_id: int, ctx: AuditContext) -> History:
    """The post and its earlier versions, newest first; NotFound when the post is hidden,
    removed or absent (one answer for all three)."""
    post = await Post.get_or_none(id=post_id)
    child_id = post.child_id if post else None
    async with audit.refusal_recorded(
        AuditAction.POST_REVISIONS, ctx, viewer, child_id, {"post_id": post_id}
    ):
        if post is None:
            raise NotFound(POST_NOT_FOUND)
        child = await check_item_access(viewer, post.child_id, Action.VIEW, POST_NOT_FOUND)
        if post.removed_at is not None:
            raise NotFound(POST_NOT_FOUND)
    redact = await identity.redactor(viewer, [child.id])
    child = await identity.seen_child(viewer, child)  # for showing: a shielded child's label
    revisions = (
        await PostRevision.filter(post_id=post.id)
        .order_by("-id")
        .limit(MAX_REVISIONS)
        .select_related("replaced_by")
    )
    await post.fetch_related("author__agency")
    detail = {"post_id": post.id, "count": len(revisions)}
    await audit.record(
        AuditAction.POST_REVISIONS, ctx, actor=viewer, child_id=post.child_id, detail=detail
    )
    return History(post, child, revisions, redact)


def revision_views(history: History) -> list[dict[str, Any]]:
    """Each earlier wording with when it was written and when (and by whom) it was replaced.
    A version was written when the one before it was replaced (the first: when posted)."""
    oldest_first = list(reversed(history.revisions))
    views = []
    for n, revision in enumerate(oldest_first):
        written: datetime | None = oldest_first[n - 1].replaced_at if n else history.post.created_at
        if n == 0 and len(oldest_first) == MAX_REVISIONS:
            written = None  # older versions were left out: when this one began is unknown
        views.append(
            {
                "kind": str(revision.kind),
                "body": history.redact(revision.body),
                "written_at": iso(written),
                "replaced_at": iso(revision.replaced_at) or "",
                "replaced_by": revision.replaced_by.name,
            }
        )
    return list(reversed(views))
