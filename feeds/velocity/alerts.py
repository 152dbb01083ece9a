"""When a child becomes flagged, its lead professional and the managers of the teams
that hold a grant for it get one notification (live, through the event log).

Called from the flip's own transaction, which happens once per episode: hysteresis
keeps a flagged child flagged, and the flip is a compare-and-set across workers.
"""

from __future__ import annotations

from tortoise.expressions import Subquery

from feeds import events
from feeds.access.policy import active_grant_q, may_view
from feeds.clock import utcnow
from feeds.models import Child, Grant, Notification, Professional, Role, TeamMember

KIND = "attention"  # Notification.kind for "this child is drawing unusual attention"


async def _recipients(child: Child) -> list[Professional]:
    teams = Grant.filter(active_grant_q(utcnow()), child_id=child.id, team_id__isnull=False)
    members = TeamMember.filter(team_id__in=Subquery(teams.values("team_id")))
    managers = await Professional.filter(
        role=Role.MANAGER, is_active=True, id__in=Subquery(members.values("professional_id"))
    )
    people = {person.id: person for person in managers}
    if child.lead_professional_id is not None and child.lead_professional_id not in people:
        lead = await Professional.get_or_none(id=child.lead_professional_id, is_active=True)
        if lead is not None:
            people[lead.id] = lead
    return list(people.values())


async def do_notify_flagged(child_id: int) -> list[Notification]:
    """One notification and one live event per recipient who may still see the child."""
    child = await Child.get_or_none(id=child_id)
    if child is None:
        return []
    notes = []
    for person in await _recipients(child):
        if not await may_view(person, child.id):
            continue  # a lead whose own grant lapsed learns nothing new
        note = await Notification.create(recipient=person, kind=KIND, child_id=child.id)
        payload = {"notification_id": note.id}  # rendered at send time (feeds/event_views.py)
        await events.emit(events.NOTIFICATION, payload, child_id=child.id, recipient_id=person.id)
        notes.append(note)
    return notes
