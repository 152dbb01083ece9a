"""The demo's shielded child: one the demo practitioner leads (through a direct grant, so
they see its name) and the assessment team also holds, so the manager and the team see
"Shielded child" on the board, in search and on the family page."""

from __future__ import annotations

from feeds.access.policy import active_grant_q
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.models import Child, Grant, Professional
from feeds.records.shielding import do_shield_child

REASON = "Mother and children moved to a refuge; the address must not be shared."


async def shield_demo_child(lead_email: str) -> int | None:
    """Shield the first child `lead_email` leads that a team also holds; its id (None when
    there is none)."""
    lead = await Professional.get(email=lead_email)
    live = Grant.filter(active_grant_q(utcnow()))
    direct = set(await live.filter(professional_id=lead.id).values_list("child_id", flat=True))
    teams = set(await live.filter(team_id__isnull=False).values_list("child_id", flat=True))
    led = Child.filter(lead_professional_id=lead.id, id__in=sorted(direct & teams))
    child = await led.order_by("id").first()
    if child is None:
        return None
    await do_shield_child(lead, child.id, REASON, AuditContext(request_id="demo"))
    return child.id
