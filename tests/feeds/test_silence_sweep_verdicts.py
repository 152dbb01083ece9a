"""The sweep's silence verdicts are the detector's: read with velocity's days, written only
when they move, irregular agencies cut short, and velocity's verdicts unchanged by the
longer read."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

import pytest

from feeds.clock import utcnow
from feeds.models import Child, ChildActivityDay, SilenceState, VelocityState
from feeds.silence import assess
from feeds.silence.verdicts import do_recompute_silence
from feeds.velocity import sweep, verdicts
from feeds.velocity.detector import ActivityEvent
from feeds.velocity.tallies import day_end, utc_day
from feeds.velocity.verdicts import VelocityWatcher, do_recompute_velocity
from tests.conftest import Factory

AGENCIES = ("Oak School", "Health visiting", "GP", "Police", "Housing")


def _regular(rng: random.Random, every: int, stops: int) -> list[int]:
    """Ages of contact days `every` days apart with some wobble and skips, none younger
    than `stops` (the agency went quiet then)."""
    ages, age = [], stops + rng.randrange(every)
    while age < 300:
        if rng.random() > 0.08:
            ages.append(max(stops, age + rng.choice((-1, 0, 0, 1))))
        age += every
    return ages


def _contacts(rng: random.Random) -> dict[str, list[int]]:
    """A child's agencies and their contact-day ages: regular (some gone quiet), bursts,
    chance contact, or only long ago (older than velocity's 91 days)."""
    found: dict[str, list[int]] = {}
    for agency in rng.sample(AGENCIES, rng.randint(1, 3)):
        pattern = rng.choice(("weekly", "fortnightly", "monthly", "random", "burst", "old"))
        if pattern in ("weekly", "fortnightly", "monthly"):
            every = {"weekly": 7, "fortnightly": 14, "monthly": 30}[pattern]
            stops = rng.choice((0, 1, every, 2 * every + 3, 3 * every + 5))
            found[agency] = _regular(rng, every, stops)
        elif pattern == "random":
            found[agency] = rng.sample(range(300), rng.randint(3, 30))
        elif pattern == "burst":
            start = rng.randrange(280)
            found[agency] = [start + rng.randrange(14) for _ in range(rng.randint(2, 6))]
        else:
            found[agency] = [95 + rng.randrange(200) for _ in range(rng.randint(4, 12))]
    return found


async def _store(child: Child, contacts: dict[str, list[int]], today: date) -> None:
    by_age: dict[int, dict[str, int]] = {}
    for agency, ages in contacts.items():
        for age in ages:
            by_age.setdefault(age, {})[agency] = 1
    await ChildActivityDay.bulk_create(
        [
            ChildActivityDay(
                child_id=child.id,
                day=today - timedelta(days=age),
                posts=len(agencies),
                by_kind={"visit": len(agencies)},
                authors={"1": len(agencies)},
                agencies=agencies,
                concern_authors={},
                concern_agencies={},
                last_post_at=datetime.combine(today - timedelta(days=age), time(12), UTC),
            )
            for age, agencies in by_age.items()
        ]
    )


def _events(contacts: dict[str, list[int]], today: date) -> list[ActivityEvent]:
    noon = datetime.combine(today, time(12), UTC)
    return [
        ActivityEvent(noon - timedelta(days=age), "visit", "1", agency)
        for agency, ages in contacts.items()
        for age in set(ages)
    ]


async def _check(
    children: Sequence[tuple[int, dict[str, list[int]]]],
    today: date,
    now: datetime,
    flagged: dict[int, bool],
    touched: bool = True,
) -> dict[int, bool]:
    """Every stored verdict at `now` is what `feeds.silence.assess` says from the posts
    (contact ages counted from `today`); `touched`: each marked as assessed that day."""
    stored = {s.child_id: s for s in await SilenceState.all()}
    for child_id, contacts in children:
        expected = assess(_events(contacts, today), day_end(now), flagged[child_id])
        state = stored[child_id]
        assert state.assessed_on == utc_day(now) if touched else state.assessed_on is not None
        got = (state.flagged, state.score, state.silent_agencies, state.reasons)
        want = (expected.flagged, round(expected.score, 2))
        assert got == (*want, expected.silent_agencies, expected.reasons), child_id
    return {child_id: stored[child_id].flagged for child_id, _ in children}


async def test_the_sweep_stores_what_the_detector_says(make: Factory) -> None:
    rng, now = random.Random(18), utcnow()
    children = []
    for _ in range(60):
        child, contacts = await make.child(), _contacts(rng)
        await _store(child, contacts, utc_day(now))
        children.append((child.id, contacts))
    quiet = sum(1 for _, c in children if assess(_events(c, utc_day(now)), day_end(now)).flagged)
    assert 3 <= quiet < 40  # the generator makes both kinds

    await VelocityWatcher().sweep()  # one read of the days, both verdicts
    first = dict.fromkeys([c for c, _ in children], False)
    flagged = await _check(children, utc_day(now), now, first)

    # Velocity's verdicts from the longer read are those of its own 91-day read.
    before = {v.child_id: v.assessment for v in await VelocityState.all()}
    await do_recompute_velocity([c for c, _ in children], now)
    assert {v.child_id: v.assessment for v in await VelocityState.all()} == before

    # Days later (each verdict due again, some moved): the stored verdicts follow.
    for days in (1, 9, 30):
        later = now + timedelta(days=days)
        await do_recompute_silence([c for c, _ in children], later, stale_only=True)
        flagged = await _check(children, utc_day(now), later, flagged)


def _clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> Callable[[], datetime]:
    """The sweep's clock, `at` instead of now."""

    def moved() -> datetime:
        return at

    for module in (verdicts, sweep):
        monkeypatch.setattr(module, "utcnow", moved)
    return moved


async def test_each_new_day_the_sweep_stores_only_what_moved(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng, now = random.Random(7), datetime.combine(utc_day(utcnow()), time(9), UTC)
    children = []
    for _ in range(60):
        child, contacts = await make.child(), _contacts(rng)
        await _store(child, contacts, utc_day(now))
        children.append((child.id, contacts))
    _clock(monkeypatch, now)
    await VelocityWatcher().sweep()
    flagged = await _check(
        children, utc_day(now), now, dict.fromkeys([c for c, _ in children], False)
    )

    # Each day the first sweep of a shard stores what the detector says, writing only the
    # verdicts that moved (a child whose verdict stood still keeps its day); the day's
    # later sweeps do not touch silence (tampered with, a verdict stays so until tomorrow).
    for days in (1, 2, 9, 30):
        later = now + timedelta(days=days)
        _clock(monkeypatch, later)
        before = {s.child_id: s for s in await SilenceState.all()}
        await VelocityWatcher().sweep()
        flagged = await _check(children, utc_day(now), later, flagged, touched=False)
        for state in await SilenceState.all():
            was = before[state.child_id]
            moved = (state.score, state.reasons, state.flagged) != (
                was.score,
                was.reasons,
                was.flagged,
            )
            assert state.assessed_on == (utc_day(later) if moved else was.assessed_on)
        some = children[days][0]
        await SilenceState.filter(child_id=some).update(score=9.0)
        _clock(monkeypatch, later + timedelta(hours=1))
        await VelocityWatcher().sweep()
        assert (await SilenceState.get(child_id=some)).score == 9.0
        await SilenceState.filter(child_id=some).update(score=before[some].score)
