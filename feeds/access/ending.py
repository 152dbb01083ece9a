"""Access ending soon: warn a grant's holder and the child's lead before it expires.

Called from a periodic loop (the velocity watcher's step) on every worker; a
compare-and-set on `Grant.ending_warned_at` sends each grant's warning once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from feeds import events
from feeds.access.policy import active_grant_q
from feeds.feed.notifications import do_notify
from feeds.models import Child, Grant, TeamMember

KIND = "access_ending"  # Notification.kind for "access to this child ends soon"
WARN_BEFORE = timedelta(days=3)  # a grant is warned about when it enters its last 3 days
SOON = timedelta(days=7)  # the team around the child marks access ending within this


async def _recipients(grant: Grant) -> list[int]:
    """The holder (a team's members) and the child's lead, each once."""
    if grant.professional_id is not None:
        people = [grant.professional_id]
    else:
        members = TeamMember.filter(team_id=grant.team_id).order_by("professional_id")
        people = [int(row["professional_id"]) for row in await members.values("professional_id")]
    rows = await Child.filter(id=grant.child_id).values("lead_professional_id")
    lead = rows[0]["lead_professional_id"] if rows else None
    if lead is not None and int(lead) not in people:
        people.append(int(lead))
    return people


async def do_warn_ending(now: datetime) -> int:
    """Send the "access ends soon" notification for every active grant that entered its last
    WARN_BEFORE and was not warned yet; returns how many grants were warned."""
    due = Grant.filter(
        active_grant_q(now),
        expires_at__isnull=False,
        expires_at__lte=now + WARN_BEFORE,
        ending_warned_at__isnull=True,
    )
    warned = 0
    for grant in await due.order_by("id"):
        async with events.transaction():
            # Compare-and-set: of several workers, one wins the row and sends.
            won = await Grant.filter(id=grant.id, ending_warned_at__isnull=True).update(
                ending_warned_at=now
            )
            if not won:
                continue
            for person in await _recipients(grant):
                await do_notify(person, KIND, grant.child_id)
        warned += 1
    return warned
