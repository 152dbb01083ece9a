"""Demo data for the chronology: some hunches and concerns marked significant by the
child's lead professional, with what was done and what came of it (fictional)."""

from __future__ import annotations

import random

from feeds.chronology.models import Significance
from feeds.models import Child, Post, PostKind

ACTIONS = (
    "Strategy discussion with police and health; section 47 enquiry opened.",
    "Home visit the same day; mum agreed a safety plan.",
    "Referral to early help; family support worker allocated.",
    "Discussed at the team-around-the-child meeting; school to check in daily.",
    "GP appointment booked and health visitor to attend with mum.",
    "Spoke to dad about the contact arrangements; written agreement signed.",
    "Food bank voucher and a referral to the housing officer about the heating.",
)
OUTCOMES = (
    "Attending school every day since; looks brighter in class.",
    "No further injuries seen at the follow-up visit.",
    "Child protection plan agreed at the initial conference.",
    "Heating repaired; flat warm at the next visit.",
    "Missed the appointment; rebooked with a reminder call.",
    "",  # some outcomes are not known yet
)
SHARE = 4  # about one hunch or concern in four is marked


async def seed_significance(seed: int = 7) -> int:
    """Mark posts significant for each child with a lead; returns how many."""
    rng = random.Random(seed)
    leads = dict(
        await Child.filter(lead_professional_id__isnull=False).values_list(
            "id", "lead_professional_id"
        )
    )
    posts = (
        await Post.filter(child_id__in=list(leads), kind__in=[PostKind.CONCERN, PostKind.HUNCH])
        .order_by("id")
        .values("id", "child_id", "created_at")
    )
    marked = [
        Significance(
            post_id=row["id"],
            child_id=row["child_id"],
            action_taken=rng.choice(ACTIONS),
            outcome=rng.choice(OUTCOMES),
            changed_at=row["created_at"],
            changed_by_id=leads[row["child_id"]],
        )
        for row in posts
        if rng.randrange(SHARE) == 0
    ]
    await Significance.bulk_create(marked, batch_size=500)
    return len(marked)
