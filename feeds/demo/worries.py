"""Demo shared worries: colleagues share the newest hunches and concerns about the demo
practitioner's most worried-about children, so the demo opens with a shared-worry prompt
for the practitioner (their lead professional) and the manager (whose team holds a grant),
on the child page, in their notifications and on the board.

Written directly (the posts were bulk-inserted too), dated just after the posts they share,
then assessed as a real share would be.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from feeds import events
from feeds.access.policy import active_grant_q
from feeds.audit.records import AuditContext
from feeds.kinds import WORRY_KINDS
from feeds.models import Child, Grant, Post, Professional
from feeds.network.models import WorryShare
from feeds.network.worry_episodes import do_assess_worry

LEAD = "practitioner@demo.jigsaw.test"
CHILDREN = 2  # children with shared worries
SHARERS = 2  # colleagues sharing each worry
RECENT = timedelta(days=7)
NOTES = (
    "Same at school this week: withdrawn, and hungry on Monday morning.",
    "Mum cancelled our appointment too; I'm worried as well.",
    "",
    "Neighbour called us about shouting late on Saturday.",
)


async def seed_shared_worries(now: datetime) -> int:
    """Share worries on up to CHILDREN of the demo lead's children; returns how many shares."""
    lead = await Professional.get(email=LEAD)
    led = await Child.filter(lead_professional_id=lead.id).order_by("id").values("id")
    ctx, shared = AuditContext(request_id="demo"), 0
    for row in led:
        worry = await _newest_worry(int(row["id"]), now)
        if worry is None:
            continue
        async with events.transaction():
            made = await _share(worry, {worry.author_id, lead.id}, now)
            await do_assess_worry(worry.child_id, ctx, now=now)
        shared += made
        if shared >= CHILDREN * SHARERS:
            break
    return shared


async def _newest_worry(child_id: int, now: datetime) -> Post | None:
    return (
        await Post.filter(
            child_id=child_id,
            kind__in=sorted(WORRY_KINDS),
            removed_at__isnull=True,
            created_at__gt=now - RECENT,
            created_at__lt=now - timedelta(hours=2),
        )
        .order_by("-created_at", "-id")
        .first()
    )


async def _share(post: Post, not_by: set[int], now: datetime) -> int:
    """Up to SHARERS people with a live grant of their own (not the author, and not the
    lead, who is left the button to press) share it."""
    holders = await (
        Grant.filter(active_grant_q(now), child_id=post.child_id, professional_id__isnull=False)
        .exclude(professional_id__in=sorted(not_by))
        .order_by("id")
        .values("professional_id")
    )
    people = list(dict.fromkeys(int(row["professional_id"]) for row in holders))[:SHARERS]
    for number, person in enumerate(people):
        await WorryShare.create(
            post_id=post.id,
            professional_id=person,
            child_id=post.child_id,
            note=NOTES[(post.id + number) % len(NOTES)],
            created_at=post.created_at + timedelta(minutes=40 * (number + 1)),
        )
    return len(people)
