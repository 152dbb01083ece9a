"""When a child becomes flagged, its lead professional and the managers of the teams
that hold a grant for it get one notification (live, through the event log).

Called from the flip's own transaction, which happens once per episode: hysteresis
keeps a flagged child flagged, and the flip is a compare-and-set across workers.
"""

from __future__ import annotations

from feeds.access.policy import responsible_for
from feeds.feed.notifications import do_notify
from feeds.models import Notification

KIND = "attention"  # Notification.kind for "this child is drawing unusual attention"


async def do_notify_flagged(child_id: int) -> list[Notification]:
    """One notification and one live event for each person answerable for the child (the
    policy's `responsible_for`: a lead whose own grant lapsed learns nothing new)."""
    return [await do_notify(person, KIND, child_id) for person in await responsible_for(child_id)]
