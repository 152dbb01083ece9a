"""The notifications inbox: mentions and acknowledgements, unread counts, mark read.

Only notifications about children the recipient may still see are shown or counted, and
those about no child (a declined request to join names none: the requester may not see it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from feeds import events
from feeds.access.identity import Redactor, redactor
from feeds.access.policy import visible_child_ids
from feeds.clock import utcnow
from feeds.errors import NotFound
from feeds.models import Notification, Post, Professional
from feeds.serializers import iso, post_view

INBOX_PAGE = 50


@dataclass(frozen=True)
class Inbox:
    items: list[dict[str, Any]]
    unread: int


async def _visible(recipient: Professional) -> QuerySet[Notification]:
    children = await visible_child_ids(recipient)
    about = Q(child_id__in=children) | Q(child_id__isnull=True)
    return Notification.filter(about, recipient_id=recipient.id)


async def unread_count(recipient: Professional) -> int:
    return await (await _visible(recipient)).filter(read_at__isnull=True).count()


def notification_payload(
    note: Notification, post: Post | None, unread: int, redact: Redactor
) -> dict[str, Any]:
    """A notification as the API and the websocket show it (post needs author.agency)."""
    return {
        "notification_id": note.id,
        "kind": note.kind,
        "child_id": note.child_id,
        "created_at": iso(note.created_at),
        "read_at": iso(note.read_at),
        "post": post_view(post, redact) if post is not None else None,
        "unread": unread,
    }


async def do_notify(
    recipient_id: int,
    kind: str,
    child_id: int | None,
    *,
    actor_id: int | None = None,
    post_id: int | None = None,
    event_type: str = events.NOTIFICATION,
) -> Notification:
    """Create one notification and its live event, inside the caller's transaction. The
    event carries the notification's id only: what a socket sees (created_at, unread,
    the post as it is now) is rendered at send time (feeds/event_views.py)."""
    note = await Notification.create(
        recipient_id=recipient_id, kind=kind, child_id=child_id, actor_id=actor_id, post_id=post_id
    )
    payload = {"notification_id": note.id}
    await events.emit(event_type, payload, child_id=child_id, recipient_id=recipient_id)
    return note


async def inbox(recipient: Professional, limit: int = INBOX_PAGE) -> Inbox:
    """The newest notifications about children the recipient may still see."""
    notes = await (await _visible(recipient)).order_by("-id").limit(limit)
    posts = await Post.filter(id__in=[n.post_id for n in notes if n.post_id]).prefetch_related(
        "author__agency"
    )
    by_id = {post.id: post for post in posts}
    unread = await unread_count(recipient)
    redact = await redactor(recipient, {post.child_id for post in posts})
    return Inbox(
        [notification_payload(n, by_id.get(n.post_id or 0), unread, redact) for n in notes],
        unread,
    )


async def mark_read(recipient: Professional, notification_id: int) -> int:
    """Mark one notification read; returns the unread count left."""
    updated = await (await _visible(recipient)).filter(id=notification_id).update(read_at=utcnow())
    if not updated:
        raise NotFound("No such notification.")
    return await unread_count(recipient)


async def mark_all_read(recipient: Professional) -> int:
    await (await _visible(recipient)).filter(read_at__isnull=True).update(read_at=utcnow())
    return 0
