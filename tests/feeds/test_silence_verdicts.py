"""Stored silence verdicts: computed from the daily tallies, flipped once per episode
(audited, the lead and managers notified), ended by a post, swept once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feeds.audit import SYSTEM
from feeds.audit.actions import AuditAction
from feeds.clock import utcnow
from feeds.feed.posting import do_create_post
from feeds.models import AuditRecord, Child, ChildActivityDay, Notification, Role, SilenceState
from feeds.silence.verdicts import KIND, do_recompute_silence
from feeds.velocity.tallies import utc_day
from feeds.velocity.verdicts import VelocityWatcher
from tests.conftest import Factory

NOW = datetime(2025, 3, 5, 12, tzinfo=UTC)


async def contact_every(
    child: Child, agency: str, every: int, count: int, silent: int, now: datetime = NOW
) -> None:
    """`count` contact days `every` days apart, the last one `silent` days before today."""
    today = utc_day(now)
    days = [today - timedelta(days=silent + n * every) for n in range(count)]
    await ChildActivityDay.bulk_create(
        [
            ChildActivityDay(
                child_id=child.id,
                day=day,
                posts=1,
                by_kind={"visit": 1},
                authors={"1": 1},
                agencies={agency: 1},
                concern_authors={},
                concern_agencies={},
            )
            for day in days
        ]
    )


async def answerable_child(make: Factory) -> tuple[Child, list[int]]:
    lead = await make.practitioner()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    manager = await make.professional(role=Role.MANAGER)
    await make.grant(child, team=await make.team(managers=[manager]))
    return child, sorted([lead.id, manager.id])


async def test_a_school_gone_quiet_is_stored_and_notifies_once(make: Factory) -> None:
    child, answerable = await answerable_child(make)
    await contact_every(child, "Oak School", 7, 14, silent=23)
    await contact_every(child, "Health visiting", 14, 8, silent=3)

    flips = await do_recompute_silence([child.id], NOW)
    await do_recompute_silence([child.id], NOW + timedelta(days=1))  # still quiet

    assert [(f.child_id, f.flagged) for f in flips] == [(child.id, True)]
    state = await SilenceState.get(child_id=child.id)
    assert state.flagged and state.flagged_at == NOW
    assert state.silent_agencies == ["Oak School"]
    assert state.reasons == [
        "Oak School posted about every 7 days for 13 weeks; nothing for 24 days"
    ]
    notes = await Notification.filter(kind=KIND, child_id=child.id)
    assert sorted(n.recipient_id for n in notes) == answerable
    audited = await AuditRecord.filter(action=AuditAction.SILENCE_CHANGED, child_id=child.id)
    assert len(audited) == 1


async def test_a_post_from_the_quiet_agency_ends_the_episode(make: Factory) -> None:
    child, _ = await answerable_child(make)
    await contact_every(child, "Oak School", 7, 14, silent=23)
    await do_recompute_silence([child.id], NOW)

    await contact_every(child, "Oak School", 7, 1, silent=0)  # the school posts today
    flips = await do_recompute_silence([child.id], NOW)

    assert [(f.child_id, f.flagged) for f in flips] == [(child.id, False)]
    state = await SilenceState.get(child_id=child.id)
    assert not state.flagged and state.flagged_at is None and state.reasons == []


async def test_a_steady_child_and_a_child_with_no_posts_are_not_quiet(make: Factory) -> None:
    steady, _ = await answerable_child(make)
    empty = await make.child()
    await contact_every(steady, "Oak School", 7, 14, silent=2)

    assert await do_recompute_silence([steady.id, empty.id], NOW) == []
    states = {s.child_id: s for s in await SilenceState.all()}
    assert set(states) == {steady.id, empty.id}
    assert not any(s.flagged for s in states.values())
    assert await Notification.filter(kind=KIND).count() == 0


async def test_the_sweep_assesses_silence_once_a_day(make: Factory) -> None:
    now = utcnow()
    quiet, answerable = await answerable_child(make)
    other = await make.child()
    await contact_every(quiet, "Oak School", 7, 14, silent=23, now=now)

    await VelocityWatcher().sweep()
    states = {s.child_id: s for s in await SilenceState.all()}
    assert states[quiet.id].flagged and not states[other.id].flagged
    assert {s.assessed_on for s in states.values()} == {utc_day(now)}

    # Assessed today already: the next sweep leaves the stored verdict alone.
    await SilenceState.filter(child_id=other.id).update(score=9.0)
    await VelocityWatcher().sweep()
    assert (await SilenceState.get(child_id=other.id)).score == 9.0
    notes = await Notification.filter(kind=KIND, child_id=quiet.id)
    assert sorted(n.recipient_id for n in notes) == answerable


async def test_a_closed_case_is_not_gone_quiet(make: Factory) -> None:
    child, _ = await answerable_child(make)
    await contact_every(child, "Oak School", 7, 14, silent=23)
    await do_recompute_silence([child.id], NOW)
    await Child.filter(id=child.id).update(closed_at=NOW)  # read-only: nobody posts now

    flips = await do_recompute_silence([child.id], NOW + timedelta(days=1))

    assert [(f.child_id, f.flagged) for f in flips] == [(child.id, False)]
    state = await SilenceState.get(child_id=child.id)
    assert not state.flagged and state.score == 0.0 and state.reasons == []
    assert await do_recompute_silence([child.id], NOW + timedelta(days=30)) == []


async def test_the_catch_up_after_a_post_ends_the_episode_and_marks_it_assessed(
    make: Factory,
) -> None:
    """The catch-up reads the child's days once for velocity and silence both: the quiet
    agency's post ends the episode, and an unmoved verdict is still marked assessed today."""
    child, _ = await answerable_child(make)
    school = await make.agency()
    teacher = await make.professional(agency=school)
    await make.grant(child, professional=teacher)
    steady = await make.child()
    await make.grant(steady, professional=teacher)
    now = utcnow()
    await contact_every(child, school.name, 7, 14, silent=23, now=now)
    await contact_every(steady, school.name, 7, 14, silent=2, now=now)
    await do_recompute_silence([child.id, steady.id], now - timedelta(days=1))
    assert (await SilenceState.get(child_id=child.id)).flagged

    for pupil in (child, steady):
        await do_create_post(teacher, pupil.id, "visit", "In class today, settled.", SYSTEM)
    await VelocityWatcher().catch_up()

    ended, still = [await SilenceState.get(child_id=c.id) for c in (child, steady)]
    assert not ended.flagged and ended.assessed_on == utc_day(utcnow())
    assert not still.flagged and still.assessed_on == utc_day(utcnow())
