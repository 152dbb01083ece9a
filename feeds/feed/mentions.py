"""@mentions: a post that names a professional's handle notifies them, if and only if
they may see the child (otherwise nobody learns anything)."""

from __future__ import annotations

import re

from feeds import events
from feeds.access.policy import may_view
from feeds.feed.notifications import do_notify
from feeds.models import Notification, Post, Professional

MENTION = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9._-]{0,63})", re.IGNORECASE)


def mentioned_handles(body: str) -> set[str]:
    """Handles named in a post, without trailing punctuation ("@sam.jones." -> sam.jones)."""
    return {match.rstrip("._-").lower() for match in MENTION.findall(body)}


async def do_notify_mentions(post: Post, author: Professional) -> list[Notification]:
    """Inside the post's transaction: one notification and one event per allowed mention."""
    handles = mentioned_handles(post.body)
    if not handles:
        return []
    people = await Professional.filter(handle__in=handles, is_active=True).exclude(id=author.id)
    notes = []
    for person in people:
        if not await may_view(person, post.child_id):
            continue
        note = await do_notify(
            person.id,
            "mention",
            post.child_id,
            actor_id=author.id,
            post_id=post.id,
            event_type=events.MENTION,
        )
        notes.append(note)
    return notes
