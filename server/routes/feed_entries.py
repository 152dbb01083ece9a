"""The child page's feed: posts with the system entries of the same stretch of time
("Northgate Primary School (education) is now involved") in between, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feeds.models import Post, Professional
from feeds.network.involvement import Window, entry_view, system_entries


async def _window(child_id: int, posts: list[Post], before: int | None, more: bool) -> Window:
    """The newest page runs to now; an older one up to the post it continues from. A page
    with more after it starts at its oldest post; the last page reaches back to the start."""
    until: datetime | None = None
    if before is not None:
        found = await Post.get_or_none(id=before, child_id=child_id)
        until = found.created_at if found else None
    since = posts[-1].created_at if more and posts else None
    return Window(since, until)


async def with_system_entries(
    viewer: Professional,
    child_id: int,
    posts: list[Post],
    views: list[dict[str, Any]],
    before: int | None,
    more: bool,
) -> list[dict[str, Any]]:
    """`views` (of `posts`, newest first) with the entries of their stretch of time merged
    in by time; an entry's view has "system": True."""
    entries = await system_entries(viewer, child_id, await _window(child_id, posts, before, more))
    merged: list[dict[str, Any]] = []
    waiting = list(entries)  # newest first, like the posts
    for post, view in zip(posts, views, strict=True):
        while waiting and waiting[0].created_at > post.created_at:
            merged.append({**entry_view(waiting.pop(0)), "system": True})
        merged.append(view)
    merged.extend({**entry_view(entry), "system": True} for entry in waiting)
    return merged
