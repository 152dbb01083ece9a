"""Demo data for "what changed since I last looked": the demo practitioner last read their
children's feeds two days ago (so a few posts wait as new), and the demo manager's team
follows one of the children it holds a grant for."""

from __future__ import annotations

from datetime import datetime, timedelta

from feeds.feed.visits import my_children
from feeds.models import ChildVisit, Follow, Grant, Post, Professional, TeamMember

PRACTITIONER, MANAGER = "practitioner@demo.jigsaw.test", "manager@demo.jigsaw.test"
LAST_LOOKED = timedelta(days=2)


async def seed_my_day(now: datetime) -> None:
    await _team_follow(await Professional.get(email=MANAGER), now)
    await _last_visits(await Professional.get(email=PRACTITIONER), now - LAST_LOOKED)


async def _last_visits(person: Professional, at: datetime) -> None:
    """A marker on each of the person's children ("My children"): the newest post then."""
    visits = []
    for child in await my_children(person, at + LAST_LOOKED):
        then = Post.filter(child_id=child.child_id, created_at__lte=at)
        seen = await then.order_by("-id").first()
        visits.append(
            ChildVisit(
                professional_id=person.id,
                child_id=child.child_id,
                last_seen_post_id=seen.id if seen else 0,
                seen_at=at,
            )
        )
    await ChildVisit.bulk_create(visits)


async def _team_follow(manager: Professional, now: datetime) -> None:
    """The manager's team follows the child of its grants with the most recent post."""
    managed = await TeamMember.filter(professional_id=manager.id, is_manager=True).first()
    if managed is None:
        return
    held = await Grant.filter(team_id=managed.team_id, revoked_at__isnull=True).values_list(
        "child_id", flat=True
    )
    newest = await Post.filter(child_id__in=list(held), created_at__lte=now).order_by("-id").first()
    if newest is not None:
        await Follow.create(team_id=managed.team_id, child_id=newest.child_id)
