"""The event log: written in the same transaction as the change it describes.

Live updates and websocket replay read it in id order (see server/live.py).
"""

from __future__ import annotations

from typing import Any

from feeds.models import Event

POST_CREATED = "post.created"
POST_EDITED = "post.edited"
POST_REMOVED = "post.removed"
GRANT_CHANGED = "grant.changed"


async def emit(
    type_: str, payload: dict[str, Any], *, child_id: int | None, recipient_id: int | None = None
) -> Event:
    """Append one event; its id orders it for replay."""
    return await Event.create(
        type=type_, child_id=child_id, recipient_id=recipient_id, payload=payload
    )
