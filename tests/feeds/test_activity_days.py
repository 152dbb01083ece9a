"""Per-child daily tallies: kept by posting in the post's transaction, exact under
removal and re-kinding, equal to a recount, and what velocity reads."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.feed.posting import do_create_post, do_edit_post, do_remove_post
from feeds.models import Child, ChildActivityDay, Post, PostKind, Professional, VelocityState
from feeds.velocity.detector import ActivityEvent, assess, assess_days
from feeds.velocity.tallies import day_end, load_days, rebuild_days, utc_day
from feeds.velocity.verdicts import HISTORY_DAYS, do_recompute_velocity
from tests.conftest import Factory

CTX = AuditContext(ip="198.51.100.4", request_id="req-days")


async def _today(child: Child) -> ChildActivityDay:
    return await ChildActivityDay.get(child_id=child.id, day=utc_day(utcnow()))


async def _stored(child: Child) -> list[tuple[object, ...]]:
    rows = await ChildActivityDay.filter(child_id=child.id).order_by("day")
    return [
        (r.day, r.posts, r.by_kind, r.authors, r.agencies, r.concern_authors, r.concern_agencies)
        for r in rows
        if r.posts
    ]


async def test_posting_counts_the_post_in_its_day(make: Factory) -> None:
    child = await make.child()
    nurse = await make.practitioner(grants=[child])
    teacher = await make.practitioner(grants=[child])
    await do_create_post(nurse, child.id, "update", "Weighed, well.", CTX)
    await do_create_post(nurse, child.id, "hunch", "Quieter than usual.", CTX)
    await do_create_post(teacher, child.id, "concern", "Bruise on arm.", CTX)

    day = await _today(child)
    nurse_agency = (await Professional.get(id=nurse.id).prefetch_related("agency")).agency.name
    assert day.posts == 3
    assert day.by_kind == {"update": 1, "hunch": 1, "concern": 1}
    assert day.authors == {str(nurse.id): 2, str(teacher.id): 1}
    assert day.concern_authors == {str(nurse.id): 1, str(teacher.id): 1}
    assert day.agencies[nurse_agency] == 2
    assert day.last_post_at is not None


async def test_removing_and_rekinding_subtract_exactly(make: Factory) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    first = (await do_create_post(author, child.id, "hunch", "Something is off.", CTX)).post
    second = (await do_create_post(author, child.id, "update", "Home visit done.", CTX)).post

    await do_edit_post(author, second.id, "concern", "Home visit: no food in.", CTX)
    await do_remove_post(author, first.id, CTX)

    day = await _today(child)
    assert day.posts == 1
    assert day.by_kind == {"concern": 1}  # hunch removed, update moved to concern
    assert day.concern_authors == {str(author.id): 1}
    await do_remove_post(author, second.id, CTX)
    day = await _today(child)
    assert (day.posts, day.by_kind, day.authors, day.agencies) == (0, {}, {}, {})


async def test_a_recount_matches_the_running_tally(make: Factory) -> None:
    child = await make.child()
    people = [await make.practitioner(grants=[child]) for _ in range(3)]
    for n, kind in enumerate(["update", "hunch", "visit", "concern", "positive", "hunch"]):
        await do_create_post(people[n % 3], child.id, kind, f"note {n}", CTX)
    removed = await Post.filter(child_id=child.id).order_by("id").first()
    assert removed is not None
    await do_remove_post(people[0], removed.id, CTX)
    running = await _stored(child)

    assert await rebuild_days([child.id]) == 1
    assert await _stored(child) == running


async def test_concurrent_posts_on_one_child_all_count(make: Factory) -> None:
    """On PostgreSQL the day row is created once and row-locked; nothing fails or is lost."""
    child = await make.child()
    people = [await make.practitioner(grants=[child]) for _ in range(8)]
    await asyncio.gather(
        *(do_create_post(p, child.id, "update", f"at once {n}", CTX) for n, p in enumerate(people))
    )
    assert (await _today(child)).posts == 8
    assert await Post.filter(child_id=child.id).count() == 8


async def test_velocity_from_stored_days_equals_velocity_from_posts(make: Factory) -> None:
    child = await make.child()
    now = utcnow()
    authors = [await make.practitioner(agency=await make.agency()) for _ in range(3)]
    for n in range(12):
        # The newest post at `now` itself: an hour earlier is yesterday just after midnight.
        at = now - timedelta(days=n * 6, hours=1) if n < 9 else now - timedelta(days=n - 9)
        kind = PostKind.HUNCH if n % 4 == 0 else PostKind.UPDATE
        await Post.create(child=child, author=authors[n % 3], kind=kind, body="x", created_at=at)
    await rebuild_days([child.id])
    posts = await Post.filter(child_id=child.id).prefetch_related("author__agency")
    events = [
        ActivityEvent(p.created_at, str(p.kind), str(p.author_id), p.author.agency.name)
        for p in posts
    ]

    stored = (await load_days([child.id], utc_day(now), HISTORY_DAYS))[child.id]
    from_days = assess_days(stored.days, day_end(now))
    from_posts = assess(events, day_end(now))
    assert from_days == from_posts
    assert from_days.sparkline[-1] >= 1


async def test_a_sweep_over_more_children_than_one_statement_takes(make: Factory) -> None:
    """The full recompute goes in chunks (a 100,000-child sweep once hit asyncpg's
    32,767-parameter limit); every child gets a stored verdict."""
    await Child.bulk_create(
        [Child(display_name=f"Bulk {n}", reference=f"B-{n:06d}") for n in range(6_000)],
        batch_size=1000,
    )
    ids: list[Any] = list(await Child.all().values_list("id", flat=True))
    assert await do_recompute_velocity(ids) == []
    assert await VelocityState.filter(assessed_at__isnull=False).count() == len(ids)
